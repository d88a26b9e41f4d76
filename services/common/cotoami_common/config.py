"""Reading configuration from the environment, once, with clear errors."""

from __future__ import annotations  # Env has methods named after builtins

import builtins
import ipaddress
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import jwt

from cotoami_common.tokens import AccessTokenVerifier

log = logging.getLogger(__name__)

T = TypeVar("T")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# gunicorn halts (rather than respawning forever) when a worker exits with this.
WORKER_BOOT_ERROR = 3


class ConfigError(ValueError):
    """A required variable is missing or a value is malformed."""


class Env:
    """Typed access to environment variables; every failure names the variable
    and what is wrong with it, never its value: any setting may hold a secret
    (a password in a URL, a keyword DSN, a Secret left base64-encoded), and the
    message goes to the logs.

    Any variable NAME may instead be given as NAME_FILE, the path of a file
    holding the value: how Kubernetes Secrets are mounted."""

    def __init__(self, environ: Mapping[str, str]):
        self._environ = environ

    def _raw(self, name: str, default: str | None) -> str:
        value = self._environ.get(name)
        path = self._environ.get(f"{name}_FILE", "").strip()
        if path:
            try:
                value = Path(path).read_text()
            except OSError as error:
                raise ConfigError(f"{name}_FILE names a file that cannot be read: {error.strerror}") from None
            if not value.strip():
                raise ConfigError(f"{name}_FILE names an empty file")
        if value is None or value.strip() == "":
            if default is None:
                raise ConfigError(f"{name} is required but not set")
            return default
        return value.strip()

    def str(self, name: str, default: str | None = None, pattern: str | None = None) -> str:
        value = self._raw(name, default)
        if pattern and not re.fullmatch(pattern, value):
            raise ConfigError(f"{name} is malformed: it does not match {pattern}")
        return value

    def int(self, name: builtins.str, default: int | None = None, minimum: int = 0, maximum: int = 2**31) -> int:
        raw = self._raw(name, None if default is None else str(default))
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be an integer") from None
        if not minimum <= value <= maximum:
            raise ConfigError(f"{name} must be between {minimum} and {maximum}")
        return value

    def bool(self, name: builtins.str, default: bool) -> bool:
        raw = self._raw(name, "true" if default else "false").lower()
        if raw in ("1", "true", "yes", "on"):
            return True
        if raw in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name} must be true or false")

    def url(
        self,
        name: builtins.str,
        default: builtins.str | None = None,
        schemes: tuple[builtins.str, ...] = ("http", "https"),
    ) -> builtins.str:
        value = self._raw(name, default)
        parts = urlsplit(value)
        if parts.scheme not in schemes:
            raise ConfigError(f"{name} must be a {'/'.join(schemes)} URL: it does not start with {schemes[0]}://")
        if not parts.hostname:
            raise ConfigError(f"{name} must be a {'/'.join(schemes)} URL: it names no host")
        return value

    def secret(self, name: builtins.str) -> builtins.str:
        """A secret: required, never defaulted; usually given as NAME_FILE."""
        return self.str(name)

    def json_file(self, name: builtins.str) -> dict[builtins.str, object]:
        """A required JSON object in the file NAME names."""
        path = self.str(name)
        try:
            value = json.loads(Path(path).read_text())
        except OSError as error:
            raise ConfigError(f"{name} names a file that cannot be read: {error.strerror}") from None
        except ValueError:
            raise ConfigError(f"{name} names a file that is not JSON") from None
        if not isinstance(value, dict):
            raise ConfigError(f"{name} names a file that is not a JSON object")
        return value

    def origins(self, name: builtins.str, default: builtins.str) -> tuple[builtins.str, ...]:
        """A comma-separated list of origins such as http://127.0.0.1:8000."""
        entries = (o.strip() for o in self._raw(name, default).split(",") if o.strip())
        return tuple(_serialized_origin(name, number, entry) for number, entry in enumerate(entries, 1))

    def networks(self, name: builtins.str, default: builtins.str) -> tuple[Network, ...]:
        """A comma-separated list of addresses and CIDR blocks, IPv4 or IPv6, such as 10.0.0.0/8,::1."""
        networks = []
        for number, entry in enumerate((e.strip() for e in self._raw(name, default).split(",") if e.strip()), 1):
            try:
                networks.append(ipaddress.ip_network(entry))
            except ValueError:
                raise ConfigError(
                    f"{name} must list addresses or networks like 10.0.0.0/8: entry {number} is not one"
                ) from None
        return tuple(networks)


def _serialized_origin(name: str, number: int, given: str) -> str:
    """An origin as a browser serializes it in an Origin header (lower case, no
    default port, no path), so that the header can be compared with it exactly."""
    malformed = ConfigError(f"{name} must list origins like https://example.com: entry {number} is not one")
    parts = urlsplit(given.lower().rstrip("/"))
    default_port = {"http": 80, "https": 443}.get(parts.scheme)
    if default_port is None or not parts.hostname or parts.path or parts.query or parts.fragment or "@" in parts.netloc:
        raise malformed
    try:
        port = parts.port
    except ValueError:  # not a number, or past 65535
        raise malformed from None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + ("" if port in (None, default_port) else f":{port}")


def load_config(from_env: Callable[[Env], T], environ: Mapping[str, str]) -> T:
    """Build a service's Config, or stop the process with one clear line."""
    try:
        return from_env(Env(environ))
    except ConfigError as error:
        log.critical("configuration error: %s", error)
        raise SystemExit(WORKER_BOOT_ERROR) from None


@dataclass(frozen=True)
class WebConfig:
    """The settings every service reads the same way, with a database or without
    (live); each service's Config extends it, or ServiceConfig."""

    redis_url: str
    allowed_origins: tuple[str, ...]
    trusted_proxies: tuple[Network, ...]  # whose X-Real-IP and X-Forwarded-Proto are believed
    max_body_bytes: int

    @staticmethod
    def web_settings(env: Env) -> dict[str, Any]:
        return {
            "redis_url": env.url("REDIS_URL", "redis://127.0.0.1:6379/0", schemes=("redis", "rediss")),
            "allowed_origins": env.origins("ALLOWED_ORIGINS", "http://127.0.0.1:8000,http://localhost:8000"),
            # The gateway, which reaches the services from this machine.
            "trusted_proxies": env.networks("TRUSTED_PROXIES", "127.0.0.1/32,::1/128"),
            "max_body_bytes": env.int("MAX_BODY_BYTES", 256 * 1024, minimum=1024, maximum=16 * 1024 * 1024),
        }


@dataclass(frozen=True)
class ServiceConfig(WebConfig):
    """WebConfig and the service's own PostgreSQL database."""

    database_url: str
    db_pool_size: int

    @staticmethod
    def common_settings(env: Env, service: str) -> dict[str, Any]:
        return {
            **WebConfig.web_settings(env),
            "database_url": env.url(
                "DATABASE_URL",
                f"postgresql://postgres@127.0.0.1:5432/cotoami_{service}",
                schemes=("postgresql", "postgres"),
            ),
            "db_pool_size": env.int("DB_POOL_SIZE", 8, minimum=1, maximum=100),
        }


@dataclass(frozen=True)
class TokenConfig:
    """What a service needs to verify access tokens: auth's public keys and the expected claims."""

    jwks: dict[str, object]
    issuer: str
    audience: str

    def verifier(self) -> AccessTokenVerifier:
        return AccessTokenVerifier(self.jwks, self.issuer, self.audience)

    @classmethod
    def from_env(cls, env: Env) -> TokenConfig:
        config = cls(
            jwks=env.json_file("JWT_PUBLIC_KEYS_FILE"),
            issuer=env.str("JWT_ISSUER", "cotoami-auth"),
            audience=env.str("JWT_AUDIENCE", "cotoami"),
        )
        try:
            config.verifier()
        except (ValueError, TypeError, jwt.PyJWTError) as error:
            raise ConfigError(f"JWT_PUBLIC_KEYS_FILE holds no usable key set: {error}") from None
        return config
