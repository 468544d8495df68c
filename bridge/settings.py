"""The one reader of configuration: a frozen `Settings` built from the environment and validated once.

Each provider package reads its own variables from the `env` handed to its `configure` (through
`bridge.providers.registry`); its configuration is kept whole in `Settings.providers`, by provider key: its name
for the unsuffixed variables, `<name>/<source>` for each named source, whose variables carry the suffix
`_<SOURCE>` (`<NAME>_WEBHOOK_SECRET_EU` -> `<name>/eu`). A source's package is handed its own variables with the
suffix stripped, so it configures itself exactly as it does for the unsuffixed ones.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.errors import ConfigError
from bridge.providers import registry
from bridge.providers.variables import number

PENDO_REGIONS = {
    "us": ("https://app.pendo.io", "https://app.pendo.io"),
    "us1": ("https://us1.app.pendo.io", "https://us1.data.pendo.io"),
    "eu": ("https://app.eu.pendo.io", "https://data.eu.pendo.io"),
    "jpn": ("https://app.jpn.pendo.io", "https://data.jpn.pendo.io"),
    "au": ("https://app.au.pendo.io", "https://data.au.pendo.io"),
}
VISITOR_FALLBACKS = ("skip", "synthetic", "email")
ACCOUNT_FALLBACKS = ("none", "stripe_customer", "connect_account")
DATE_FORMATS = ("iso", "epoch_ms")
DEFAULT_DATABASE_URL = "sqlite:///bridge.db"
# Field names (globs) whose values the admin console masks in payloads: personal data a support view need not show.
DEFAULT_REDACT_FIELDS = ("email", "*_email", "name", "*_name", "phone", "*_phone", "address", "*_address",
                         "shipping", "tax_id*", "tax_ids", "ip_address")
ADMIN_PASSWORD_MIN_LENGTH = 12
_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")
DAY, HOUR = 86400.0, 3600.0


@dataclass(frozen=True)
class Settings:
    """Everything the service can be told, with the defaults a fresh install runs on."""

    database_url: str = DEFAULT_DATABASE_URL
    port: int = 8000
    # Each configured provider's own configuration, by name, as its package's `configure(env)` returned it.
    providers: Mapping[str, Any] = field(default_factory=dict)
    reconcile_hours: float = 0.0  # 0: no scheduled reconcile in the worker
    pendo_integration_key: str | None = None
    pendo_track_secret: str | None = None
    pendo_api_base: str = PENDO_REGIONS["us"][0]
    pendo_data_base: str = PENDO_REGIONS["us"][1]
    pendo_create_accounts: bool = False
    pendo_date_format: str = "iso"
    pendo_missing_window_hours: float = 72.0
    mappings_dir: Path = Path("mappings")
    mappings_overlay_dir: Path | None = None
    max_body_bytes: int = 1024 * 1024
    retention_days: float = 30.0
    account_fallback: str = "none"
    visitor_fallback: str = "skip"
    synthetic_visitor_prefix: str = ""  # empty: `<provider>-customer-`, by the event's provider
    retry_base_seconds: float = 2.0
    retry_max_seconds: float = 60.0
    worker_poll_seconds: float = 0.5
    claim_seconds: float = 60.0
    dyno: str | None = None
    log_format: str = "json"
    # Delivery budget and visibility (operations.md: "Pace toward Pendo", "Alerts").
    metadata_batch_size: int = 500
    metadata_linger_seconds: float = 1.0
    pendo_requests_per_second: float = 20.0
    track_concurrency: int = 4
    metrics_token: str | None = None
    alert_webhook_url: str | None = None
    lag_alert_seconds: float = 900.0
    alert_every_seconds: float = 600.0
    # The admin console (docs/admin.md): off unless a password is set.
    admin_password: str | None = field(default=None, repr=False)
    redact_fields: tuple[str, ...] = DEFAULT_REDACT_FIELDS
    # The HTTP API and imports (docs/api.md, docs/import.md).
    api_requests_per_second: float = 50.0
    import_database_url: str | None = field(default=None, repr=False)  # `bridge import --sql`: holds a password

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def track_enabled(self) -> bool:
        return bool(self.pendo_track_secret)


def _flag(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name} must be true or false")


def _integer(env: Mapping[str, str], name: str, default: int, minimum: int, maximum: int) -> int:
    """A whole number written in digits, within [minimum, maximum]."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not _INTEGER.fullmatch(raw):
        raise ConfigError(f"{name} must be a whole number, written in digits")
    return int(_within(name, int(raw), minimum, maximum))


def _within(name: str, value: float, minimum: float, maximum: float) -> float:
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name} must be between {minimum:g} and {maximum:g}")
    return value


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    value = env.get(name, "").strip().lower() or default
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}")
    return value


def _batch_size(env: Mapping[str, str]) -> int:
    size = _integer(env, "PENDO_METADATA_BATCH_SIZE", 500, 1, 1_000_000)
    if size > 1000:
        raise ConfigError("PENDO_METADATA_BATCH_SIZE must be at most 1000 (Pendo's bulk limit as peers observe it)")
    return size


def _reconcile_hours(env: Mapping[str, str], providers: Mapping[str, Any]) -> float:
    hours = number(env, "BRIDGE_RECONCILE_HOURS", 0.0, 0.0, 24 * 366)
    if not (hours == 0 or hours >= 1):
        raise ConfigError("BRIDGE_RECONCILE_HOURS must be 0 (off) or a number of hours of at least 1 (a full "
                          "sync of a large billing account takes minutes)")
    if hours and not any(registry.source(name, config) is not None for name, config in providers.items()):
        keys = [registry.api_key_variable(name) for name in providers or registry.PACKAGES]
        missing, wanted = (f"{keys[0]} is not", keys[0]) if len(keys) == 1 else (
            f"none of {', '.join(keys)} is", f"one of {', '.join(keys)}")
        raise ConfigError(f"BRIDGE_RECONCILE_HOURS is set but {missing}: the scheduled reconcile reads the "
                          "provider's list API (a restricted key with read access to subscriptions and "
                          f"customers); set {wanted} or unset BRIDGE_RECONCILE_HOURS")
    return hours


_SUFFIX = re.compile(rf"[A-Z0-9][A-Z0-9_-]{{0,{registry.SOURCE_MAX - 1}}}")


def _suffixes(env: Mapping[str, str], variables: tuple[str, ...]) -> dict[str, str]:
    """The source suffixes set for a package, by source name: every `<VARIABLE>_<SUFFIX>` in `env` with a value.

    A suffix that cannot be a source name (lower case, a dot, too long, `_DEFAULT`) is a ConfigError naming the
    variable: a silently ignored account would lose its webhooks."""
    found: dict[str, str] = {}
    for name, value in env.items():
        variable = next((v for v in variables if name.startswith(v + "_")), None)
        if variable is None or not value.strip():
            continue
        suffix = name[len(variable) + 1:]
        if not _SUFFIX.fullmatch(suffix) or suffix.lower() == registry.DEFAULT_SOURCE:
            raise ConfigError(
                f"{name} names the source {suffix!r}, which cannot be one: a source suffix is upper-case letters, "
                f"digits, _ and -, at most {registry.SOURCE_MAX} characters, and not DEFAULT (the unsuffixed "
                f"variables are the default source)")
        found[suffix.lower()] = suffix
    return found


def _source_env(env: Mapping[str, str], variables: tuple[str, ...], suffix: str) -> dict[str, str]:
    """The environment a named source's package reads: the other variables as they are, the package's own ones
    only as the source's values (a source never sees the unsuffixed account's secret or key, nor another's)."""
    own = {name: env[f"{name}_{suffix}"] for name in variables if f"{name}_{suffix}" in env}
    others = {name: value for name, value in env.items()
              if not any(name == each or name.startswith(each + "_") for each in variables)}
    return others | own


def _renamed(exc: ConfigError, variables: tuple[str, ...], suffix: str) -> ConfigError:
    """A package's complaint about a source's variable, naming the variable as the operator set it."""
    pattern = re.compile(r"\b(" + "|".join(re.escape(name) for name in variables) + r")\b")
    return ConfigError(pattern.sub(lambda match: f"{match.group(1)}_{suffix}", str(exc)))


def _named_sources(env: Mapping[str, str]) -> dict[str, Any]:
    """Each named source's configuration by key (`<name>/<source>`); a source whose secret is unset is left out."""
    found: dict[str, Any] = {}
    for each in registry.packages():
        for source, suffix in sorted(_suffixes(env, tuple(each.VARIABLES)).items()):
            try:
                config = each.configure(_source_env(env, tuple(each.VARIABLES), suffix))
            except ConfigError as exc:
                raise _renamed(exc, tuple(each.VARIABLES), suffix) from None
            if config is not None:
                found[registry.key(each.NAME, source)] = config
    return found


def _providers(env: Mapping[str, str], require_secret: bool) -> dict[str, Any]:
    """Every configured provider's configuration, by key; at least one is needed to serve webhooks."""
    providers = registry.configure(env) | _named_sources(env)
    if require_secret and not providers:
        raise ConfigError("no provider is configured: set the webhook secret of at least one (what verifies its "
                          "webhooks: a signing secret, a key pair or Basic credentials, as its docs page says). The "
                          "variables each provider reads: "
                          + registry.variables())
    return providers


def _optional_path(env: Mapping[str, str], name: str) -> Path | None:
    value = env.get(name, "").strip()
    return Path(value) if value else None


def _admin_password(env: Mapping[str, str]) -> str | None:
    password = env.get("BRIDGE_ADMIN_PASSWORD", "")
    if password and len(password) < ADMIN_PASSWORD_MIN_LENGTH:
        raise ConfigError(f"BRIDGE_ADMIN_PASSWORD must be at least {ADMIN_PASSWORD_MIN_LENGTH} characters long "
                          "(or unset, which turns the admin console off)")
    return password or None


def _redact_fields(env: Mapping[str, str]) -> tuple[str, ...]:
    if "BRIDGE_REDACT_FIELDS" not in env:
        return DEFAULT_REDACT_FIELDS
    return tuple(name.strip().lower() for name in env["BRIDGE_REDACT_FIELDS"].split(",") if name.strip())


def normalise_database_url(url: str) -> str:
    """Accept the `postgres://` form PaaS set and pick the psycopg 3 driver for PostgreSQL."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    if url.startswith(("sqlite:", "postgresql+")):
        return url
    raise ConfigError("DATABASE_URL must start with sqlite:, postgres:// or postgresql://")


def _pendo_hosts(env: Mapping[str, str]) -> tuple[str, str]:
    override = env.get("PENDO_BASE_URL", "").strip().rstrip("/")
    if override:
        return override, override
    region = _choice(env, "PENDO_REGION", tuple(PENDO_REGIONS), "us")
    return PENDO_REGIONS[region]


def load_settings(env: Mapping[str, str] | None = None, *, require_secret: bool = True) -> Settings:
    """Build the settings from `env` (the process environment by default) and refuse unusable ones."""
    env = os.environ if env is None else env
    providers = _providers(env, require_secret)
    database_url = normalise_database_url(env.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL)
    dyno = env.get("DYNO") or None
    if dyno and database_url.startswith("sqlite"):
        raise ConfigError(
            "DATABASE_URL is SQLite but this is a PaaS dyno (DYNO is set): its filesystem is thrown away on "
            "every restart, and stored events with it. Add PostgreSQL (e.g. `heroku addons:create "
            "heroku-postgresql`) so DATABASE_URL points at it."
        )
    api_base, data_base = _pendo_hosts(env)
    return Settings(
        database_url=database_url,
        port=_integer(env, "PORT", 8000, 1, 65535),
        providers=providers,
        reconcile_hours=_reconcile_hours(env, providers),
        pendo_integration_key=env.get("PENDO_INTEGRATION_KEY", "").strip() or None,
        pendo_track_secret=env.get("PENDO_TRACK_EVENT_SECRET", "").strip() or None,
        pendo_api_base=api_base,
        pendo_data_base=data_base,
        pendo_create_accounts=_flag(env.get("PENDO_CREATE_ACCOUNTS", ""), "PENDO_CREATE_ACCOUNTS"),
        pendo_date_format=_choice(env, "PENDO_DATE_FORMAT", DATE_FORMATS, "iso"),
        pendo_missing_window_hours=number(env, "PENDO_MISSING_WINDOW_HOURS", 72.0, 0.0, 24 * 366),
        mappings_dir=Path(env.get("BRIDGE_MAPPINGS_DIR", "").strip() or "mappings"),
        mappings_overlay_dir=_optional_path(env, "BRIDGE_MAPPINGS_OVERLAY_DIR"),
        max_body_bytes=_integer(env, "BRIDGE_MAX_BODY_BYTES", 1024 * 1024, 1024, 64 * 1024 * 1024),
        retention_days=number(env, "BRIDGE_RETENTION_DAYS", 30.0, 0.0, 3660.0),
        account_fallback=_choice(env, "BRIDGE_ACCOUNT_FALLBACK", ACCOUNT_FALLBACKS, "none"),
        visitor_fallback=_choice(env, "BRIDGE_VISITOR_FALLBACK", VISITOR_FALLBACKS, "skip"),
        synthetic_visitor_prefix=env.get("BRIDGE_SYNTHETIC_VISITOR_PREFIX", "").strip(),
        retry_base_seconds=number(env, "BRIDGE_RETRY_BASE_SECONDS", 2.0, 0.01, HOUR),
        retry_max_seconds=number(env, "BRIDGE_RETRY_MAX_SECONDS", 60.0, 0.01, DAY),
        worker_poll_seconds=number(env, "BRIDGE_WORKER_POLL_SECONDS", 0.5, 0.01, 60.0),
        claim_seconds=number(env, "BRIDGE_CLAIM_SECONDS", 60.0, 1.0, HOUR),
        dyno=dyno,
        log_format=_choice(env, "BRIDGE_LOG_FORMAT", ("json", "text"), "json"),
        metadata_batch_size=_batch_size(env),
        metadata_linger_seconds=number(env, "BRIDGE_METADATA_LINGER_SECONDS", 1.0, 0.0, 60.0),
        pendo_requests_per_second=number(env, "PENDO_REQUESTS_PER_SECOND", 20.0, 0.1, 1000.0),
        track_concurrency=_integer(env, "PENDO_TRACK_CONCURRENCY", 4, 1, 64),
        metrics_token=env.get("BRIDGE_METRICS_TOKEN", "").strip() or None,
        alert_webhook_url=env.get("ALERT_WEBHOOK_URL", "").strip() or None,
        lag_alert_seconds=number(env, "BRIDGE_LAG_ALERT_SECONDS", 900.0, 1.0, 7 * DAY),
        alert_every_seconds=number(env, "BRIDGE_ALERT_EVERY_SECONDS", 600.0, 0.0, DAY),
        admin_password=_admin_password(env),
        redact_fields=_redact_fields(env),
        api_requests_per_second=number(env, "BRIDGE_API_REQUESTS_PER_SECOND", 50.0, 0.01, 100_000.0),
        import_database_url=env.get("BRIDGE_IMPORT_DATABASE_URL", "").strip() or None,
    )
