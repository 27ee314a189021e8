"""PostgreSQL URLs: what libpq is given, which schema they pick, and how they
are shown.

A URL names the database and, optionally, the schema signoff keeps its tables
in: `postgresql://host/db?options=-csearch_path%3Dsignoff` (the `=` inside may
be written plainly; libpq refuses it, so it is encoded here). A password in a
URL is never shown: `redacted` is what logs, `signoff config` and generated
client configurations print.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, parse_qsl, quote, urlencode, urlsplit

SCHEMES = ("postgresql", "postgres")
HIDDEN = "***"
_SEARCH_PATH = re.compile(r"-c\s*search_path\s*=\s*((?:\\.|[^\s\\])+)")
_KEYWORD_PASSWORD = re.compile(r"(password\s*=\s*)('(?:\\.|[^'\\])*'|\S+)")


def is_postgres_url(db: str) -> bool:
    scheme, sep, _ = db.partition("://")
    return bool(sep) and scheme.lower() in SCHEMES


def conninfo(url: str) -> str:
    """The URL as libpq accepts it: its query parameters encoded."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    return _join(parts._replace(query=urlencode(query, quote_via=quote)))


def schema_of(url: str) -> str | None:
    """The first schema on the search path the URL's `options` set, if any."""
    for name, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        if name != "options":
            continue
        if found := _SEARCH_PATH.search(value):
            first = found.group(1).replace("\\", "").split(",")[0].strip()
            return first.strip('"') or None
    return None


def redacted(url: str) -> str:
    """The URL with any password replaced by `***`: in the user part
    (`user:secret@host`), in a `password=` query parameter, or in a libpq
    keyword string (`host=... password=secret`)."""
    if not is_postgres_url(url):
        return _KEYWORD_PASSWORD.sub(rf"\g<1>{HIDDEN}", url)
    parts = urlsplit(url)
    userinfo, at, hosts = parts.netloc.rpartition("@")
    if at and ":" in userinfo:
        userinfo = f"{userinfo.split(':', 1)[0]}:{HIDDEN}"
    netloc = f"{userinfo}@{hosts}" if at else hosts
    query = [
        (name, HIDDEN if name == "password" else value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    encoded = urlencode(query, quote_via=quote, safe="*")
    return _join(parts._replace(netloc=netloc, query=encoded))


def _join(parts: SplitResult) -> str:
    """The URL again, keeping `//` before an empty host (`postgresql:///db`
    is a local socket), which urlunsplit would drop."""
    query = f"?{parts.query}" if parts.query else ""
    fragment = f"#{parts.fragment}" if parts.fragment else ""
    return f"{parts.scheme}://{parts.netloc}{parts.path}{query}{fragment}"
