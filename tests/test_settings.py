"""The one reader of configuration."""

from __future__ import annotations

import pytest

from bridge.errors import ConfigError
from bridge.providers import registry
from bridge.settings import load_settings, normalise_database_url

BASE = {"STRIPE_WEBHOOK_SECRET": "whsec_a"}


def test_settings_defaults_run_on_sqlite() -> None:
    settings = load_settings(BASE)
    assert settings.is_sqlite and settings.providers["stripe"].mode == "live"
    assert settings.pendo_api_base == "https://app.pendo.io"
    assert settings.max_body_bytes == 1024 * 1024 and settings.retention_days == 30
    assert settings.track_enabled is False


def test_settings_refuse_to_start_without_any_provider_secret() -> None:
    with pytest.raises(ConfigError, match="STRIPE_WEBHOOK_SECRET") as caught:
        load_settings({})
    for each in registry.packages():  # every registered provider's every variable is named
        assert f"{each.NAME}: {', '.join(each.VARIABLES)}" in str(caught.value)


@pytest.mark.parametrize("env", [{"PADDLE_WEBHOOK_SECRET": "pdl_ntfset_x"}, {"STANDARD_WEBHOOK_SECRET": "whsec_a2V5"},
                                 {"CHARGEBEE_WEBHOOK_USERNAME": "u", "CHARGEBEE_WEBHOOK_PASSWORD": "p"},
                                 {"BRAINTREE_PUBLIC_KEY": "pub", "BRAINTREE_PRIVATE_KEY": "priv"}])
def test_settings_start_with_any_one_provider_alone(env: dict[str, str]) -> None:
    assert len(load_settings(env).providers) == 1


def test_settings_secret_list_for_rolls() -> None:
    assert load_settings({"STRIPE_WEBHOOK_SECRET": " whsec_a , whsec_b ,"}).providers["stripe"].webhook_secrets == (
        "whsec_a", "whsec_b")


def test_settings_refuse_sqlite_on_a_dyno() -> None:
    with pytest.raises(ConfigError, match="Add PostgreSQL"):
        load_settings({**BASE, "DYNO": "web.1"})
    assert not load_settings({**BASE, "DYNO": "web.1", "DATABASE_URL": "postgres://u@h/db"}).is_sqlite


@pytest.mark.parametrize(
    ("url", "expected"),
    [("postgres://u:p@h:5432/d", "postgresql+psycopg://u:p@h:5432/d"),
     ("postgresql://u@h/d", "postgresql+psycopg://u@h/d"), ("sqlite:///x.db", "sqlite:///x.db")],
)
def test_settings_database_url_forms(url: str, expected: str) -> None:
    assert normalise_database_url(url) == expected


def test_settings_reject_unknown_database() -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        normalise_database_url("mysql://u@h/d")


@pytest.mark.parametrize(
    ("region", "api", "data"),
    [("eu", "https://app.eu.pendo.io", "https://data.eu.pendo.io"),
     ("us1", "https://us1.app.pendo.io", "https://us1.data.pendo.io"),
     ("jpn", "https://app.jpn.pendo.io", "https://data.jpn.pendo.io"),
     ("au", "https://app.au.pendo.io", "https://data.au.pendo.io")],
)
def test_settings_pendo_region_sets_both_hosts(region: str, api: str, data: str) -> None:
    settings = load_settings({**BASE, "PENDO_REGION": region})
    assert (settings.pendo_api_base, settings.pendo_data_base) == (api, data)


def test_settings_pendo_base_url_overrides_both() -> None:
    settings = load_settings({**BASE, "PENDO_REGION": "eu", "PENDO_BASE_URL": "http://127.0.0.1:9/"})
    assert settings.pendo_api_base == settings.pendo_data_base == "http://127.0.0.1:9"


@pytest.mark.parametrize(
    ("name", "value"),
    [("STRIPE_MODE", "sandbox"), ("PENDO_REGION", "mars"), ("BRIDGE_MAX_BODY_BYTES", "lots"),
     ("PENDO_CREATE_ACCOUNTS", "maybe"), ("BRIDGE_VISITOR_FALLBACK", "guess"), ("PORT", "-1")],
)
def test_settings_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings({**BASE, name: value})


def test_settings_error_never_echoes_a_secret() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"STRIPE_WEBHOOK_SECRET": "whsec_secret_value", "STRIPE_MODE": "whsec_secret_value"})
    assert "whsec_secret_value" not in str(caught.value)


def test_settings_reconcile_hours_off_by_default_and_on_with_a_key() -> None:
    assert load_settings(BASE).reconcile_hours == 0
    assert load_settings({**BASE, "BRIDGE_RECONCILE_HOURS": "0"}).reconcile_hours == 0
    on = load_settings({**BASE, "BRIDGE_RECONCILE_HOURS": "24", "STRIPE_API_KEY": "rk_live_x"})
    assert on.reconcile_hours == 24


def test_settings_reconcile_hours_need_the_stripe_api_key() -> None:
    with pytest.raises(ConfigError, match="BRIDGE_RECONCILE_HOURS is set but STRIPE_API_KEY is not"):
        load_settings({**BASE, "BRIDGE_RECONCILE_HOURS": "24"})


@pytest.mark.parametrize("value", ["nightly", "-1", "0.5", "nan", "inf"])
def test_settings_reconcile_hours_bad_values_name_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="BRIDGE_RECONCILE_HOURS must be"):
        load_settings({**BASE, "BRIDGE_RECONCILE_HOURS": value, "STRIPE_API_KEY": "rk_live_x"})


@pytest.mark.parametrize(
    ("name", "value"),
    [("BRIDGE_RETENTION_DAYS", "nan"), ("BRIDGE_RETENTION_DAYS", "inf"), ("BRIDGE_CLAIM_SECONDS", "inf"),
     ("BRIDGE_CLAIM_SECONDS", "-inf"), ("BRIDGE_CLAIM_SECONDS", "1e999"), ("BRIDGE_CLAIM_SECONDS", "86400000"),
     ("PORT", "nan"), ("PORT", "inf"), ("PORT", "8000.5"), ("PORT", "80e2"), ("PORT", "0"), ("PORT", "65536"),
     ("PORT", "٨٠٠٠"), ("PORT", "99999999999999999999999999"), ("BRIDGE_MAX_BODY_BYTES", "inf"),
     ("BRIDGE_MAX_BODY_BYTES", "nan"), ("BRIDGE_MAX_BODY_BYTES", "1e9"), ("BRIDGE_MAX_BODY_BYTES", "1_000_000"),
     ("BRIDGE_MAX_BODY_BYTES", str(65 * 1024 * 1024)), ("PENDO_TRACK_CONCURRENCY", "1e400"),
     ("PENDO_TRACK_CONCURRENCY", "1000"), ("PENDO_METADATA_BATCH_SIZE", "nan"), ("PENDO_METADATA_BATCH_SIZE", "2.5"),
     ("PENDO_REQUESTS_PER_SECOND", "nan"), ("PENDO_REQUESTS_PER_SECOND", "1e6"), ("STRIPE_REQUESTS_PER_SECOND", "inf"),
     ("BRIDGE_RETRY_BASE_SECONDS", "nan"), ("BRIDGE_RETRY_MAX_SECONDS", "inf"), ("BRIDGE_WORKER_POLL_SECONDS", "inf"),
     ("BRIDGE_METADATA_LINGER_SECONDS", "nan"), ("PENDO_MISSING_WINDOW_HOURS", "inf"),
     ("BRIDGE_LAG_ALERT_SECONDS", "nan"), ("BRIDGE_ALERT_EVERY_SECONDS", "inf"), ("BRIDGE_RECONCILE_HOURS", "1e9")],
)
def test_settings_numbers_must_be_finite_and_in_range(name: str, value: str) -> None:
    env = {**BASE, name: value, "STRIPE_API_KEY": "rk_live_x"}
    with pytest.raises(ConfigError, match=f"^{name} must be") as caught:
        load_settings(env)
    assert value not in str(caught.value)  # names the variable, never echoes its value


@pytest.mark.parametrize(
    ("name", "value", "attribute", "expected"),
    [("PORT", " 8080 ", "port", 8080), ("PORT", "65535", "port", 65535), ("BRIDGE_MAX_BODY_BYTES", "2048",
     "max_body_bytes", 2048), ("PENDO_TRACK_CONCURRENCY", "64", "track_concurrency", 64),
     ("BRIDGE_RETENTION_DAYS", "0.5", "retention_days", 0.5), ("BRIDGE_CLAIM_SECONDS", "1e2", "claim_seconds", 100.0)],
)
def test_settings_numbers_in_range_are_read(name: str, value: str, attribute: str, expected: float) -> None:
    settings = load_settings({**BASE, name: value})
    assert getattr(settings, attribute) == expected
    assert type(getattr(settings, attribute)) is type(expected)


def test_settings_admin_console_off_without_a_password_and_never_shows_it() -> None:
    assert load_settings(BASE).admin_password is None
    on = load_settings({**BASE, "BRIDGE_ADMIN_PASSWORD": "a long enough password"})
    assert on.admin_password == "a long enough password" and "a long enough password" not in repr(on)


def test_settings_admin_password_too_short_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError, match="BRIDGE_ADMIN_PASSWORD must be at least 12") as caught:
        load_settings({**BASE, "BRIDGE_ADMIN_PASSWORD": "short-pw"})
    assert "short-pw" not in str(caught.value)


def test_settings_api_rate_and_import_database() -> None:
    settings = load_settings(BASE)
    assert settings.api_requests_per_second == 50 and settings.import_database_url is None
    custom = load_settings({**BASE, "BRIDGE_API_REQUESTS_PER_SECOND": "5",
                            "BRIDGE_IMPORT_DATABASE_URL": " postgres://ro@db/app "})
    assert custom.api_requests_per_second == 5 and custom.import_database_url == "postgres://ro@db/app"
    assert "ro@db" not in repr(custom)  # the URL may hold a password
    with pytest.raises(ConfigError, match="BRIDGE_API_REQUESTS_PER_SECOND"):
        load_settings({**BASE, "BRIDGE_API_REQUESTS_PER_SECOND": "0"})
