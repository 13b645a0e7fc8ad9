"""Small URL helpers shared by the PostgreSQL and Redis modules."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", ""})


def is_loopback(url: str) -> bool:
    return (urlsplit(url).hostname or "") in LOOPBACK_HOSTS


def port_of(url: str, default: int) -> int:
    return urlsplit(url).port or default


def with_path(url: str, path: str) -> str:
    """Same URL with its path (database name, Redis db number) replaced."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{path}", parts.query, parts.fragment))


def redacted(url: str) -> str:
    """The URL without its password, fit for error messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
