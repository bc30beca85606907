"""App settings: numbers that are not numbers stop the app at start, naming the variable."""

from __future__ import annotations

import pytest

from ivr.app.config import ConfigError, load_config

ARI = {"IVR_ARI_URL": "http://127.0.0.1:8088", "IVR_ARI_USERNAME": "u",
       "IVR_ARI_PASSWORD": "p"}


def test_defaults_and_set_values() -> None:
    config = load_config(ARI)
    assert (config.http_port, config.voicemail_retention_days) == (8090, 90)
    config = load_config({**ARI, "IVR_HTTP_PORT": " 9001 ",
                          "IVR_VOICEMAIL_RETENTION_DAYS": "0.5"})
    assert (config.http_port, config.voicemail_retention_days) == (9001, 0.5)
    assert load_config({**ARI, "IVR_VOICEMAIL_RETENTION_DAYS": "0"}) \
        .voicemail_retention_days == 0


@pytest.mark.parametrize("value", ["http", "-1", "0", "65536", "80.5"])
def test_a_bad_http_port_names_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match=f"IVR_HTTP_PORT must be a TCP port .*'{value}'"):
        load_config({**ARI, "IVR_HTTP_PORT": value})


@pytest.mark.parametrize("value", ["ninety", "-3", "inf", "nan"])
def test_bad_retention_days_name_the_variable(value: str) -> None:
    with pytest.raises(ConfigError,
                       match=f"IVR_VOICEMAIL_RETENTION_DAYS must be a number of days .*'{value}'"):
        load_config({**ARI, "IVR_VOICEMAIL_RETENTION_DAYS": value})


def test_the_first_call_resolution_window() -> None:
    assert load_config(ARI).fcr_days == 7
    assert load_config({**ARI, "IVR_FCR_DAYS": "3"}).fcr_days == 3
    for value in ("0", "400", "week"):
        with pytest.raises(ConfigError, match="IVR_FCR_DAYS must be a number of days"):
            load_config({**ARI, "IVR_FCR_DAYS": value})


def test_trusted_proxies_are_addresses_or_networks() -> None:
    from ivr.app.config import ConfigError, trusted_proxies
    assert trusted_proxies({}) == ()
    assert trusted_proxies({"IVR_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/24"}) == (
        "127.0.0.1", "10.0.0.0/24")
    with pytest.raises(ConfigError, match="proxy-host"):
        trusted_proxies({"IVR_TRUSTED_PROXIES": "127.0.0.1,proxy-host"})
