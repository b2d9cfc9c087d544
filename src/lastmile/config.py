"""All settings in one object, read from ``LASTMILE_*`` environment variables (or ``.env``).

Every setting is documented in ``docs/settings.md`` (a test checks it). Outside development
the settings refuse unsafe defaults (a missing secret key).
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_URL = re.compile(r"^https?://[^/?#\s]+/?$")
_SERVER_URL = re.compile(r"^https?://[^/?#\s]+(/[^?#\s]*)?$")


class Settings(BaseSettings):
    """lastmile's configuration. Environment variable = ``LASTMILE_`` + field name in capitals."""

    model_config = SettingsConfigDict(env_prefix="LASTMILE_", env_file=".env", extra="ignore")

    environment: Literal["development", "production"] = "development"
    """``production`` refuses unsafe defaults (no secret key)."""
    data_dir: Path = Path("data")
    """Where the embedded database, proof-of-delivery files and caches live."""
    database_url: str | None = None
    """SQLAlchemy URL; default SQLite in ``data_dir``. PostgreSQL: ``postgresql+psycopg://...``."""
    secret_key: str | None = None
    """Signs session cookies and CSRF tokens. Generated and kept in ``data_dir`` in development."""
    roads_extract: Path | None = None
    """OpenStreetMap extract (.osm.pbf) for travel times and geocoding; default: the bundled one."""
    use_roads: bool = True
    """False: straight-line travel times (faster start-up, e.g. in tests)."""
    geocode_imports: bool = True
    """Geocode orders that arrive without coordinates in the background (offline index)."""
    standing_orders_days_ahead: int = Field(default=14, ge=0, le=120)
    """How many days ahead standing orders make their real orders (today included): checked
    every hour and whenever a standing order or closed day changes."""
    tile_url: str | None = None
    """Map tile URL template for the dashboard when online; unset = offline vector basemap."""
    plan_time_limit_s: float = Field(default=10.0, gt=0, le=3600)
    """Default search time of a plan job."""
    solver_workers: int = Field(default=1, ge=1, le=64)
    """Solver processes for one plan job. 1 leaves the other
    cores to the web server, so a same-day insert stays fast while a plan runs."""
    access_token_ttl_s: int = Field(default=12 * 3600, gt=0)
    """How long an API access token from ``/auth/token`` stays valid."""
    login_max_failures: int = Field(default=5, ge=1)
    """Failed logins per account (e-mail) within ``login_window_s`` before that account's
    logins from new devices are refused; a device that logged in to the account before has its
    own count of the same size."""
    login_address_max_failures: int = Field(default=20, ge=1)
    """Failed logins from one client address (any accounts) within ``login_window_s`` before
    logins from that address are refused, except from devices that logged in to the account
    before (a signed device cookie)."""
    login_window_s: int = Field(default=300, ge=1)
    """The login rate-limit window."""
    org_orders_per_day: int = Field(default=5000, ge=0)
    """Orders one organisation may create per business day (its own clock and time zone),
    unless the instance admin gave it its own number (``lastmile admin set-limits``); 0 = no
    limit. Refused beyond with 429 (``limit: orders_per_day``) until its midnight."""
    org_api_requests_per_minute: int = Field(default=6000, ge=0)
    """Requests with one organisation's credentials (API and dashboard) per real minute, all
    server processes together, unless it has its own number (``lastmile admin
    set-limits``); 0 = no limit. Refused beyond with 429 (``limit: api_requests_per_minute``)."""
    retention_positions_days: int = Field(default=30, ge=0, le=36_500)
    """Days GPS positions are kept after they arrive; older ones are deleted by the worker's
    hourly retention job, their routes keeping the driven distance (KPIs unchanged). 0 =
    keep forever."""
    retention_pod_days: int = Field(default=180, ge=0, le=36_500)
    """Days proof-of-delivery files (photos, signatures) are kept; older files are deleted by
    the same job, their rows kept (KPIs still count deliveries with a proof). 0 = forever."""
    trusted_proxies: list[str] = Field(default_factory=list)
    """Addresses or networks (CIDR) of reverse proxies whose ``X-Forwarded-For`` header names
    the client, as JSON: ``["10.0.0.5", "172.18.0.0/16"]``. Empty: the header is ignored and
    the connection's peer is the client (rate limits count per peer)."""
    outbound_allowed_networks: list[str] = Field(default_factory=list)
    """Private networks (CIDR, as JSON) that webhooks and notification URLs may reach, e.g.
    ``["10.1.2.0/24"]`` for a receiver on your own network. Empty (the default): only public
    internet addresses; loopback, private, link-local (cloud metadata) and other special
    addresses are refused."""
    routing_server: Literal["builtin", "osrm", "valhalla"] = "builtin"
    """Where travel times come from: ``builtin`` (the offline road engine on
    ``roads_extract``), or an ``osrm`` or ``valhalla`` server at ``routing_server_url``."""
    routing_server_url: str | None = None
    """The OSRM or Valhalla server (``http://127.0.0.1:5000``); required with one of them."""
    routing_server_profile_urls: dict[str, str] = Field(default_factory=dict)
    """OSRM serves one profile per server: the servers of the other profiles, as JSON
    (``{"cargo_bike": "http://127.0.0.1:5001"}``). ``routing_server_url`` serves van and car."""
    geocoder: Literal["builtin", "nominatim"] = "builtin"
    """How addresses become coordinates: ``builtin`` (the offline index of ``roads_extract``)
    or a ``nominatim`` server at ``nominatim_url``."""
    nominatim_url: str = "https://nominatim.openstreetmap.org"
    """The Nominatim server; the public one allows one request a second (answers are cached)."""
    nominatim_min_interval_s: float = Field(default=1.0, ge=0)
    """Least time between two Nominatim requests (at least 1 for the public server)."""
    nominatim_email: str | None = None
    """Sent with every Nominatim request, so the server's operator can reach you."""
    nominatim_countrycodes: str | None = None
    """Limit Nominatim's answers to these countries (``"de,at"``)."""
    map_servers_allowed_networks: list[str] = Field(default_factory=list)
    """Private networks (CIDR, as JSON) the routing and Nominatim servers may be on, e.g.
    ``["127.0.0.1/32"]`` for a server on this machine. Empty: only public addresses."""
    pod_max_bytes: int = Field(default=5_000_000, ge=1)
    """Largest accepted proof-of-delivery upload."""
    jobs: Literal["auto", "inline", "queue"] = "auto"
    """Where background jobs run: ``inline`` in the server process (threads, and a separate
    process for planning; jobs are stored in the database and resumed after a restart),
    ``queue`` in procrastinate on PostgreSQL (``lastmile worker``), ``auto`` = queue on
    PostgreSQL, inline on SQLite."""
    eta_gps_refresh_s: float = Field(default=10.0, ge=0, le=3600)
    """GPS batches recompute a route's ETAs at most this often, by the points' own time (per
    server process; stop events always recompute). 0 = on every batch."""
    db_pool_size: int = Field(default=10, ge=1, le=200)
    """Database connections each process keeps open (PostgreSQL); as many again may be opened
    for bursts."""
    webhook_timeout_s: float = Field(default=5.0, gt=0)
    """Timeout of one webhook delivery attempt."""
    webhook_max_attempts: int = Field(default=6, ge=1)
    """Attempts (with exponential backoff) before a webhook delivery is given up."""

    shopify_api_origin: str = "https://{shop}"
    """Where shops' Admin API is called, ``{shop}`` being the shop's ``*.myshopify.com`` host.
    Change it only to put a proxy in between, or to test against a fake shop
    (``http://{shop}:8081``)."""

    public_url: str = "http://localhost:8000"
    """Where customers reach this server (``https://deliveries.example.com``): tracking links
    in messages start with it. ``https://`` also turns on Secure cookies and HSTS; required
    (not the default) in production. Unset, the links the dashboard shows (login, invitation,
    tracking links) start with the address the caller's browser used."""
    log_format: Literal["auto", "text", "json"] = "auto"
    """Log lines of ``lastmile serve``/``worker``: ``json`` (one object a line, with
    ``request_id``) for log collectors, ``text`` for people; ``auto`` = json in production."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """Least severe log level written (``DEBUG`` also logs health checks and metrics scrapes)."""
    metrics_dir: Path | None = None
    """Where server and worker processes leave their Prometheus samples for ``/metrics`` to add
    up; default ``data_dir/metrics``. Every process of one install must share it."""
    smtp_host: str | None = None
    """SMTP server for e-mail; unset = e-mail is not sent (logged as failed)."""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "lastmile <noreply@localhost>"
    """The From address of customer e-mails."""
    smtp_tls: Literal["starttls", "ssl", "none"] = "starttls"
    """``starttls`` (port 587), ``ssl`` (implicit TLS, port 465) or ``none`` (loopback relays)."""
    smtp_timeout_s: float = Field(default=10.0, gt=0)
    tracking_rate_per_minute: int = Field(default=60, ge=1)
    """Requests per minute one client address may make to public tracking pages."""

    @field_validator("trusted_proxies", "outbound_allowed_networks", "map_servers_allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item.strip(), strict=False)
            except ValueError as exc:
                raise ValueError(f"{item!r} is not an IP address or CIDR network") from exc
        return [item.strip() for item in value]

    @field_validator("public_url")
    @classmethod
    def _public_url_is_an_address(cls, value: str) -> str:
        if not _URL.match(value):
            raise ValueError(
                "must be an http:// or https:// address without a path "
                "(like https://deliveries.example.com)"
            )
        return value.rstrip("/")

    @field_validator("routing_server_url", "nominatim_url")
    @classmethod
    def _server_url(cls, value: str | None) -> str | None:
        if value is not None and not _SERVER_URL.match(value.strip()):
            raise ValueError("must be an http:// or https:// address (like http://127.0.0.1:5000)")
        return None if value is None else value.strip().rstrip("/")

    @field_validator("routing_server_profile_urls")
    @classmethod
    def _profile_urls(cls, value: dict[str, str]) -> dict[str, str]:
        from lastmile.core.model import Profile

        known = {p.value for p in Profile}
        for profile, url in value.items():
            if profile not in known:
                raise ValueError(f"{profile!r} is not a profile ({', '.join(sorted(known))})")
            if not _SERVER_URL.match(url.strip()):
                raise ValueError(f"{profile}: {url!r} is not an http:// or https:// address")
        return {k: v.strip().rstrip("/") for k, v in value.items()}

    @model_validator(mode="after")
    def _refuse_unsafe_defaults(self) -> Settings:
        if self.environment == "production" and not self.secret_key:
            raise ValueError("LASTMILE_SECRET_KEY must be set when LASTMILE_ENVIRONMENT=production")
        if self.environment == "production" and "public_url" not in self.model_fields_set:
            raise ValueError(
                "LASTMILE_PUBLIC_URL must be set when LASTMILE_ENVIRONMENT=production "
                "(the https:// address customers' tracking links start with)"
            )
        if self.routing_server != "builtin" and not self.routing_server_url:
            raise ValueError(
                f"LASTMILE_ROUTING_SERVER_URL must be set when LASTMILE_ROUTING_SERVER="
                f"{self.routing_server} (the address of your {self.routing_server} server)"
            )
        if self.jobs == "queue" and not self.is_postgres:
            raise ValueError("LASTMILE_JOBS=queue needs PostgreSQL (LASTMILE_DATABASE_URL)")
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'lastmile.db').resolve()}"

    @property
    def https(self) -> bool:
        """Whether clients reach lastmile over HTTPS (Secure cookies, HSTS)."""
        return self.public_url.startswith("https://")

    @property
    def resolved_log_format(self) -> Literal["text", "json"]:
        if self.log_format == "auto":
            return "json" if self.environment == "production" else "text"
        return self.log_format

    @property
    def resolved_metrics_dir(self) -> Path:
        return self.metrics_dir or self.data_dir / "metrics"

    @property
    def uses_queue(self) -> bool:
        return self.jobs == "queue" or (self.jobs == "auto" and self.is_postgres)

    @property
    def is_postgres(self) -> bool:
        return self.resolved_database_url.startswith("postgresql")

    def resolved_secret_key(self) -> str:
        """The secret key; in development one is generated once and kept in ``data_dir``."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret.key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(32)
        path.write_text(key)
        path.chmod(0o600)
        return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests build their own ``Settings`` instead)."""
    return Settings()
