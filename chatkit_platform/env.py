"""Typed readers for settings that come from the environment.

Every reader raises `ConfigError` naming the variable when a value is malformed;
`settings.py` turns that into a one-line exit, so a bad deployment never starts
half-configured.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be one of 1/0/true/false/yes/no/on/off, got {raw!r}")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default or [])
    return [part.strip() for part in raw.split(",") if part.strip()]


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(name, default).lower() or default
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


@dataclass(frozen=True)
class DatabaseConfig:
    engine: str
    name: str
    user: str = ""
    password: str = ""
    host: str = ""
    port: str = ""
    options: tuple[tuple[str, str], ...] = ()
    conn_max_age: int = 60
    # PostgreSQL: bind parameters on the server and prepare a statement once the connection
    # has run it this many times (psycopg's own default); None keeps Django's defaults.
    prepare_threshold: int | None = 5

    def as_django(self) -> dict[str, object]:
        config: dict[str, object] = {"ENGINE": self.engine, "NAME": self.name}
        if self.engine.endswith("postgresql"):
            config.update(
                USER=self.user,
                PASSWORD=self.password,
                HOST=self.host,
                PORT=self.port,
                OPTIONS=dict(self.options) | self._statement_options(),
                # Async code reaches the ORM through database_sync_to_async, which closes
                # connections older than this around each call; reconnecting every time
                # costs tens of milliseconds per store call.
                CONN_MAX_AGE=self.conn_max_age,
                CONN_HEALTH_CHECKS=True,
            )
        else:
            # SQLite: wait for the writer instead of failing at once when the web
            # process and the worker write at the same moment.
            config["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
            # A file, not pytest-django's in-memory default, so that a Celery worker or a
            # live server started by a test as another process can open the same data;
            # the pid keeps concurrent test runs apart.
            test_file = Path(self.name).with_name(f"test_db_{os.getpid()}.sqlite3")
            config["TEST"] = {"NAME": str(test_file)}
        return config

    def _statement_options(self) -> dict[str, object]:
        # Django binds parameters in the client and never prepares, so that transaction-
        # mode poolers keep working. The chat path runs the same few statements all the
        # time: prepared, PostgreSQL skips parsing and planning them, which was most of its
        # CPU for a list request (1.2 ms of 1.6 on a slow machine; bench/endpoint_load.md).
        if self.prepare_threshold is None:
            return {}
        return {"server_side_binding": True, "prepare_threshold": self.prepare_threshold}


def parse_database_url(name: str, url: str, base_dir: Path) -> DatabaseConfig:
    """Return the database described by `url` (sqlite:///path or postgres://...)."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = unquote(parts.path)
        if url.startswith("sqlite:////"):
            file = Path(path)
        elif path.lstrip("/"):
            file = base_dir / path.lstrip("/")
        else:
            raise ConfigError(f"{name} must name a file, like sqlite:///var/db.sqlite3")
        return DatabaseConfig(engine="django.db.backends.sqlite3", name=str(file))
    if parts.scheme in {"postgres", "postgresql", "pgsql"}:
        db_name = unquote(parts.path.lstrip("/"))
        if not db_name:
            raise ConfigError(f"{name} must name a database, like postgres://user@host/db")
        try:
            port = str(parts.port or "")
        except ValueError:
            raise ConfigError(f"{name} has an invalid port") from None
        return DatabaseConfig(
            engine="django.db.backends.postgresql",
            name=db_name,
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            host=parts.hostname or "",
            port=port,
            options=tuple(parse_qsl(parts.query)),
        )
    raise ConfigError(f"{name} must start with sqlite:// or postgres://, got {parts.scheme!r}")


def check_redis_url(name: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in {"redis", "rediss", "unix"} or not (parts.hostname or parts.path):
        raise ConfigError(f"{name} must look like redis://host:6379/0, got {url!r}")
    return url


def local_secret(path: Path, make: Callable[[], str] | None = None) -> str:
    """Return a development secret kept in `path`, creating it on first use.

    Only the embedded default uses this: production refuses to start without the
    real variables, so no secret ever lives in the code. The file is created exclusively
    and private from its first byte; of two processes starting at once, the one that
    does not create it reads the other's value.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make() if make else secrets.token_urlsafe(50)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_secret(path)
    with os.fdopen(descriptor, "w") as file:
        file.write(value + "\n")
    return value


def write_private(path: Path, value: str) -> None:
    """Write `value` to `path` (replacing it), readable by its owner only from the start."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # an existing file keeps its mode through os.open
    with os.fdopen(descriptor, "w") as file:
        file.write(value + "\n")


# How long a process waits for another one to finish writing a secret it just created.
_SECRET_WAIT_SECONDS = 10.0


def _read_secret(path: Path) -> str:
    deadline = time.monotonic() + _SECRET_WAIT_SECONDS
    while True:
        text = path.read_text()
        # The creator writes the value and its newline in one call; a file written by
        # hand may lack the newline, but then it is not a second old.
        complete = text.endswith("\n") or time.time() - path.stat().st_mtime > 1
        if complete and text.strip():
            return text.strip()
        if time.monotonic() > deadline:
            raise ConfigError(f"{path} is empty or incomplete; delete it to make a new one")
        time.sleep(0.01)


def ip_networks(
    name: str, values: list[str]
) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Return addresses or CIDR ranges (`10.0.0.0/8`, `::1`) as networks."""
    try:
        return [ipaddress.ip_network(value, strict=False) for value in values]
    except ValueError as error:
        raise ConfigError(f"{name} must list addresses or CIDR ranges: {error}") from None
