"""Settings, read once by the CLI (environment, optionally a TOML file) and passed down."""

from __future__ import annotations

import ipaddress
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from fallback.replica import DEFAULT_WAIT_MS as JOURNAL_WAIT_MS
from routing.domain.levels import SlaPolicy
from supervision.config import SupervisionConfig
from translations import DEFAULT_LANGUAGE, check_language


class ConfigError(Exception):
    """Bad configuration: the CLI prints it as a one-line reason and exits non-zero."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTLINE_", extra="forbid")

    ami_host: str = "127.0.0.1"
    ami_port: int = Field(5038, ge=1, le=65535)
    ami_user: str | None = None
    ami_secret: SecretStr | None = None
    ami_ping_interval: float = Field(10.0, gt=0)
    agi_host: str = "127.0.0.1"
    agi_port: int = Field(4573, ge=0, le=65535)
    http_host: str = "127.0.0.1"
    http_port: int = Field(8000, ge=0, le=65535)
    db_url: str = "sqlite:///./hotline.db"
    redis_url: str | None = None
    # Scale-out (cluster, docs/deployment.md): Redis key prefix shared by the
    # instances of one hotline; "full" = controller candidate + FastAGI + console,
    # "console" = web console/API only. The leader lease lives `lease_ttl` seconds.
    redis_prefix: str = Field("hotline", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    role: Literal["full", "console"] = "full"
    lease_ttl: float = Field(3.0, ge=1.0, le=60.0)
    node_name: str | None = Field(None, pattern=r"^[A-Za-z0-9_.:@-]{1,100}$")
    # Local time of the service desk: the day in ticket numbers, flood season, guard windows.
    timezone: str = "Asia/Shanghai"
    # Language of pages, messages, notices and reports when nobody chose (zh-CN or en).
    locale: str = DEFAULT_LANGUAGE
    journal_dir: Path = Path("./journal")
    # The emergency journal's second copy (docs/deployment.md): a Redis primary with
    # `appendfsync always` whose replicas confirm each write by WAIT; unset = this host
    # only. Paper numbers then come from its shared counter. `journal_replicas` replicas
    # must confirm within `journal_wait_ms`, or nothing is acknowledged on the record; the
    # default outlasts the second a replica that has just resynced takes to confirm.
    journal_redis_url: str | None = None
    journal_replicas: int = Field(1, ge=0, le=10)
    journal_wait_ms: int = Field(JOURNAL_WAIT_MS, ge=10, le=60_000)
    sounds_dir: Path = Path("./sounds")
    # Call recordings: where the PBX's MixMonitor files are readable (docs/asterisk.md),
    # kept this many days (0 = for ever), and whether callers hear that calls are recorded.
    recordings_dir: Path = Path("./recordings")
    recording_days: int = Field(180, ge=0, le=36_500)
    recording_notice: bool = True
    emergency_members: Annotated[list[str], NoDecode] = Field(default_factory=list)
    menu_file: Path | None = None  # None = the default menu shipped in ivr/
    main_queue: str = "hotline-main"
    # A customer's assigned engineers, when logged in and free, are rung first for this
    # many seconds (Dial before Queue, asterisk-conf/extensions.conf); 0 = queue only.
    preferred_ring_seconds: int = Field(15, ge=0, le=60)
    # Calls no controller saw on AMI get their record from the PBX's CDR (cdr_pgsql into
    # the pbx_cdr table): a sweep every N seconds while leading; 0 = off.
    cdr_sweep_interval: float = Field(60.0, ge=0)
    emergency_queue: str = "hotline-emergency"
    # Emergency health watch: probe every `health_interval` s, switch after N failures.
    health_interval: float = Field(5.0, gt=0)
    health_failures: int = Field(3, ge=1)
    health_timeout: float = Field(2.0, gt=0)
    emergency_hold_down: float = Field(60.0, ge=0)
    # Which health checks may switch the hotline to emergency mode by themselves.
    health_critical: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["database"])
    # Emergency-pool drill: a test call every N hours (0 = no schedule; `hotline drill`
    # still works on demand), failed when no pool member answers within drill_timeout s.
    drill_interval_hours: float = Field(0.0, ge=0)
    drill_timeout: float = Field(30.0, gt=0)
    service_level_target_seconds: int = Field(20, ge=1)
    # Backfill: a call whose ticket was opened automatically during emergency mode still
    # needs its paper typed in to count as reconciled (0 = the ticket is enough); the
    # leader links such tickets every `backfill_reconcile_interval` seconds.
    backfill_require_paper: bool = True
    # Call events waiting for the database are spooled to disk (journal_dir) up to this
    # size; the health page warns at 80 %.
    spool_max_mb: int = Field(100, ge=1, le=100_000)
    # Group commit: a call event with no write in flight waits this long for others to
    # share its transaction (0 = one turn of the event loop); events arriving during a
    # write always share the next one. A timed wait costs a lone call the OS scheduler's
    # wake-up on a busy machine, more than the window itself.
    db_batch_window_ms: float = Field(0.0, ge=0, le=100)
    # Connections for writes and, separately, for reads (the IVR and the screen-pop).
    db_write_pool: int = Field(10, ge=1, le=200)
    db_read_pool: int = Field(8, ge=1, le=200)
    # Once the site cache is warm, the heap built at start is frozen out of the cyclic
    # garbage collector's scans, and full collections come 10 times less often
    # (lifecycle.SettledHeap): no 100-200 ms full-collection pauses of the event loop
    # under traffic, and the remaining 10-30 ms ones every few minutes.
    gc_freeze: bool = True
    # The event loop `serve` and `demo` run on. On uvloop (libuv) the controller spent
    # 11-18 % less CPU per call in bench/screenpop.py; asyncio's stays the default until
    # the failover scenario's one unticketed call on uvloop is explained.
    event_loop: Literal["uvloop", "asyncio"] = "asyncio"
    backfill_reconcile_interval: float = Field(30.0, gt=0)
    sla: dict[str, Any] = Field(default_factory=dict)
    # [supervision] table: calendar, notification channels, recipients (supervision.config).
    supervision: dict[str, Any] = Field(default_factory=dict)
    session_secret: SecretStr | None = None
    # Access (docs/security.md): reverse proxies whose X-Forwarded-For is believed;
    # Secure cookies (None = on unless the console listens on loopback only); idle
    # time-out of a console session (0 = none); how long the audit trail is kept.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    secure_cookies: bool | None = None
    session_idle_minutes: float = Field(120.0, ge=0)
    audit_retention_days: int = Field(365, ge=1)
    # FastAGI connections served at once; more are refused with one log line.
    agi_max_connections: int = Field(200, ge=1)
    # A call joins its site's open ticket opened this recently (0 = always a new ticket).
    repeat_window_minutes: int = Field(240, ge=0, le=7 * 24 * 60)
    # On-call paging: the next engineer is paged when nobody acknowledged within this
    # time; the leader looks for pages to send or escalate every `oncall_interval` s.
    oncall_escalate_minutes: float = Field(10.0, gt=0)
    oncall_interval: float = Field(5.0, gt=0)
    # One line per log event: plain text, or JSON objects for log shippers.
    log_format: Literal["text", "json"] = "text"
    # Engineer check-in links: signed with this key (else the session secret; random per
    # start when neither is set, so links die with a restart) and valid this many hours.
    checkin_secret: SecretStr | None = None
    checkin_link_hours: float = Field(72.0, gt=0, le=24 * 60)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            value = [m.strip() for m in value.split(",") if m.strip()]
        if isinstance(value, list):
            for entry in value:
                try:
                    ipaddress.ip_network(str(entry).strip(), strict=False)
                except ValueError as exc:
                    raise ValueError(f"not an address or CIDR: {entry!r}") from exc
        return value

    def cookies_secure(self) -> bool:
        """Secure cookies unless set, or the console listens on loopback only."""
        if self.secure_cookies is not None:
            return self.secure_cookies
        try:
            return not ipaddress.ip_address(self.http_host).is_loopback
        except ValueError:
            return self.http_host != "localhost"

    @field_validator("emergency_members", "health_critical", mode="before")
    @classmethod
    def _split_members(cls, value: object) -> object:
        if isinstance(value, str):
            return [m.strip() for m in value.split(",") if m.strip()]
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("locale")
    @classmethod
    def _check_locale(cls, value: str) -> str:
        return check_language(value)

    @model_validator(mode="after")
    def _console_role_needs_redis(self) -> Settings:
        if self.role == "console" and not self.redis_url:
            raise ValueError("HOTLINE_ROLE=console needs HOTLINE_REDIS_URL (screen-pops)")
        return self

    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @field_validator("db_url")
    @classmethod
    def _check_db_url(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("HOTLINE_DB_URL must be a sqlite:// or postgresql:// URL")
        return value

    def supervision_config(self) -> SupervisionConfig:
        """The `[supervision]` table: notice channels, recipients, calendar, reports."""
        try:
            return SupervisionConfig.from_mapping(dict(self.supervision))
        except ValueError as exc:
            raise ConfigError(f"bad [supervision] configuration: {exc}") from exc

    def sla_policy(self) -> SlaPolicy:
        try:
            return SlaPolicy.from_mapping(self.sla)
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"bad [sla] configuration: {exc}") from exc


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Environment first, then the TOML file (keys without the HOTLINE_ prefix), then overrides."""
    values: dict[str, Any] = {}
    if config_file is not None:
        try:
            values.update(tomllib.loads(config_file.read_text(encoding="utf-8")))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read {config_file}: {exc}") from exc
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        settings = Settings(**values)
    except Exception as exc:  # pydantic.ValidationError: keep the first line readable
        first = str(exc).splitlines()
        raise ConfigError("bad configuration: " + " ".join(first[:3])) from exc
    settings.sla_policy()
    return settings
