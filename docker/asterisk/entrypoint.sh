#!/bin/sh
# Container start: copy the project's Asterisk configuration into /etc/asterisk, write the
# secret-bearing include files from the environment (never from the image), run Asterisk.
#   IVR_ARI_USERNAME (default ivr), IVR_ARI_PASSWORD (required)
#   IVR_AGENT_<endpoint>_PASSWORD, e.g. IVR_AGENT_agent1001_PASSWORD (optional: an agent without
#   a password cannot authenticate, so it cannot register or call)
set -eu

: "${IVR_ARI_PASSWORD:?IVR_ARI_PASSWORD must be set (see docker-compose.yml)}"
ari_user="${IVR_ARI_USERNAME:-ivr}"
src=/opt/ivr/asterisk-conf
etc=/etc/asterisk

find "$etc" -mindepth 1 -delete
cp "$src"/*.conf "$etc"/
umask 027

cat > "$etc/ari_users.conf" <<CONF
; Generated at container start from the environment. Do not commit.
[$ari_user]
type = user
read_only = no
password = $IVR_ARI_PASSWORD
password_format = plain
CONF

: > "$etc/pjsip_agents_auth.conf"
# Endpoints reference "auth = <endpoint>-auth"; the auth sections themselves are generated here.
for auth in $(sed -n 's/^[[:space:]]*auth[[:space:]]*=[[:space:]]*\([A-Za-z0-9_-]*-auth\).*/\1/p' \
              "$etc/pjsip.conf" | sort -u); do
  endpoint="${auth%-auth}"
  password="$(printenv "IVR_AGENT_${endpoint}_PASSWORD" || true)"
  if [ -z "$password" ]; then
    echo "ivr: IVR_AGENT_${endpoint}_PASSWORD not set: $endpoint cannot authenticate" >&2
    continue
  fi
  printf '[%s]\ntype = auth\nauth_type = userpass\nusername = %s\npassword = %s\n\n' \
    "$auth" "$endpoint" "$password" >> "$etc/pjsip_agents_auth.conf"
done

chown -R root:asterisk "$etc"
chmod 0640 "$etc"/*
chmod 0750 "$etc"

# -U root fails ("ASTdb initialization failed"): run as the packaged asterisk user.
exec asterisk -f -U asterisk -G asterisk
