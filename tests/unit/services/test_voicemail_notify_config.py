"""The voicemail notifications' configuration from the environment (NotifyConfig.from_env):
everything off when nothing is set, e-mail only with a host and recipients, every variable read
(secrets kept out of repr), the STARTTLS flag, and typos refused.
"""

from __future__ import annotations

import pytest

from ivr.services.voicemail.notify import NotifyConfig, SmtpConfig


def test_from_env_empty_turns_everything_off() -> None:
    config = NotifyConfig.from_env({})
    assert (config.webhook_url, config.webhook_secret, config.smtp) == ("", "", None)


def test_from_env_needs_host_and_recipients_for_email() -> None:
    assert NotifyConfig.from_env({"IVR_SMTP_HOST": "mail"}).smtp is None
    assert NotifyConfig.from_env({"IVR_VOICEMAIL_EMAIL": "a@x"}).smtp is None
    assert NotifyConfig.from_env({"IVR_SMTP_HOST": "mail",
                                  "IVR_VOICEMAIL_EMAIL": " , "}).smtp is None


def test_from_env_reads_everything() -> None:
    config = NotifyConfig.from_env({
        "IVR_VOICEMAIL_WEBHOOK": "https://crm.example/hook",
        "IVR_VOICEMAIL_WEBHOOK_SECRET": "s3cret",
        "IVR_SMTP_HOST": "smtp.example", "IVR_SMTP_PORT": "587",
        "IVR_SMTP_FROM": "ivr@bank.example",
        "IVR_VOICEMAIL_EMAIL": "ops@bank.example, boss@bank.example,",
        "IVR_SMTP_STARTTLS": "1", "IVR_SMTP_USER": "ivr", "IVR_SMTP_PASSWORD": "pw",
    })
    assert config.webhook_url == "https://crm.example/hook"
    assert config.webhook_secret == "s3cret"
    assert config.smtp == SmtpConfig(
        host="smtp.example", port=587, sender="ivr@bank.example",
        recipients=("ops@bank.example", "boss@bank.example"), starttls=True,
        username="ivr", password="pw")
    assert "s3cret" not in repr(config) and "pw" not in repr(config)


@pytest.mark.parametrize(("text", "expected"), [("1", True), ("true", True), ("0", False),
                                                ("", False), ("off", False)])
def test_from_env_starttls_flag(text: str, expected: bool) -> None:
    config = NotifyConfig.from_env({"IVR_SMTP_HOST": "mail", "IVR_VOICEMAIL_EMAIL": "a@x",
                                    "IVR_SMTP_STARTTLS": text})
    assert config.smtp is not None and config.smtp.starttls is expected
    assert (config.smtp.port, config.smtp.sender) == (25, "ivr@localhost")


@pytest.mark.parametrize(("key", "value"), [("IVR_SMTP_PORT", "smtp"),
                                            ("IVR_SMTP_STARTTLS", "maybe")])
def test_from_env_rejects_typos(key: str, value: str) -> None:
    with pytest.raises(ValueError, match=key):
        NotifyConfig.from_env({"IVR_SMTP_HOST": "mail", "IVR_VOICEMAIL_EMAIL": "a@x",
                               key: value})
