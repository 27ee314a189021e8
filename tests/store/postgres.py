"""The PostgreSQL the tests run against, and a fresh schema per test.

The server is the one on 127.0.0.1:5432, database `test`, trust auth, as the
machines and CI have it; `SIGNOFF_TEST_PG` names another (a URL without a
schema). Where none answers, the tests that need it skip, saying so.
"""

from __future__ import annotations

import getpass
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql


def _user() -> str:
    return os.environ.get("PGUSER") or ("postgres" if getpass.getuser() == "root" else
                                        getpass.getuser())


SERVER = os.environ.get("SIGNOFF_TEST_PG") or f"postgresql://{_user()}@127.0.0.1:5432/test"


@cache
def unreachable() -> str | None:
    """Why PostgreSQL cannot be used here, or None when it answers."""
    try:
        with psycopg.connect(SERVER, connect_timeout=3, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL not reachable at {SERVER} ({type(exc).__name__})"
    return None


def require_postgres() -> None:
    if (why := unreachable()) is not None:
        pytest.skip(why)


def url_for(schema: str) -> str:
    """The server's URL with `schema` first on the search path."""
    return f"{SERVER}?options={quote(f'-csearch_path={schema}')}"


@contextmanager
def scratch_schema() -> Iterator[str]:
    """The URL of a schema no other test uses, dropped afterwards. The store
    creates the schema itself (that is part of what is tested)."""
    require_postgres()
    schema = f"signoff_test_{uuid.uuid4().hex[:12]}"
    try:
        yield url_for(schema)
    finally:
        with psycopg.connect(SERVER, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
