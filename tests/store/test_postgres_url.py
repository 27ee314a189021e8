"""PostgreSQL URLs: what libpq is given, the schema they pick, and that a
password never shows."""

from __future__ import annotations

import pytest
from psycopg.conninfo import conninfo_to_dict

from signoff.store.open import describe
from signoff.store.postgres.url import conninfo, is_postgres_url, redacted, schema_of

SECRET = "s3cr%3At"  # "s3cr:t", percent-encoded as a URL must


@pytest.mark.parametrize(("url", "shown"), [
    (f"postgresql://alice:{SECRET}@db.example:5432/signoff",
     "postgresql://alice:***@db.example:5432/signoff"),
    (f"postgres://alice:{SECRET}@h1:5432,h2:5433/signoff?sslmode=require",
     "postgres://alice:***@h1:5432,h2:5433/signoff?sslmode=require"),
    (f"postgresql://alice@db/signoff?password={SECRET}&options=-csearch_path%3Dsig",
     "postgresql://alice@db/signoff?password=***&options=-csearch_path%3Dsig"),
    ("postgresql://alice@db/signoff", "postgresql://alice@db/signoff"),
    ("postgresql:///signoff", "postgresql:///signoff"),
    ("host=db user=alice password=s3cr:t dbname=signoff",
     "host=db user=alice password=*** dbname=signoff"),
    ("host=db password='s3 cr\\'t' dbname=signoff", "host=db password=*** dbname=signoff"),
])
def test_redacted_hides_the_password_and_keeps_the_rest(url: str, shown: str) -> None:
    assert redacted(url) == shown
    assert "s3cr" not in redacted(url)


def test_describe_redacts_urls_and_leaves_paths() -> None:
    assert describe(f"postgresql://alice:{SECRET}@db/x") == "postgresql://alice:***@db/x"
    assert describe("signoff.db") == "signoff.db"


@pytest.mark.parametrize(("url", "schema"), [
    ("postgresql://db/test?options=-csearch_path%3Dsignoff", "signoff"),
    ("postgresql://db/test?options=-csearch_path=signoff", "signoff"),
    ("postgresql://db/test?options=-c%20search_path%3Done,public", "one"),
    ("postgresql://db/test?options=-c%20statement_timeout%3D5s%20-csearch_path%3Dtwo", "two"),
    ("postgresql://db/test?sslmode=disable", None),
    ("postgresql://db/test", None),
])
def test_the_schema_is_the_first_on_the_search_path(url: str, schema: str | None) -> None:
    assert schema_of(url) == schema


def test_conninfo_encodes_a_plain_equals_sign_libpq_would_refuse() -> None:
    parsed = conninfo_to_dict(conninfo("postgresql://u@db:5/test?options=-csearch_path=s1"))
    assert parsed == {"user": "u", "host": "db", "port": "5", "dbname": "test",
                      "options": "-csearch_path=s1"}


@pytest.mark.parametrize(("db", "postgres"), [
    ("postgresql://db/x", True), ("POSTGRES://db/x", True), ("signoff.db", False),
    (":memory:", False), ("sqlite://x", False), ("/tmp/postgresql.db", False),
])
def test_which_names_are_postgres_urls(db: str, postgres: bool) -> None:
    assert is_postgres_url(db) is postgres


def test_conninfo_keeps_a_local_socket_url() -> None:
    assert conninfo("postgresql:///test") == "postgresql:///test"
