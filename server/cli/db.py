"""`signoff db migrate`: create the database, or bring its schema up to date.

`serve` refuses a database that does not exist (a typo in `--db` must not
start an empty system); this is how one is made for a domain without demo
data, or for a gateway alone (`--domain none`)."""

from __future__ import annotations

from pathlib import Path

import anyio
import typer

from signoff.server.app import Settings, migrate_store
from signoff.server.cli.common import JsonOption, fail, json_lines, out
from signoff.server.cli.settings import DbFlag, settings_of
from signoff.store.errors import StoreError

db_app = typer.Typer(help="The database: create it or migrate its schema.", no_args_is_help=True)


@db_app.command("migrate")
def migrate(db: DbFlag = None, as_json: JsonOption = False) -> None:
    """Create the database if it does not exist and apply every migration
    (idempotent: an up-to-date database is left as it is)."""
    settings = settings_of(db=db)
    try:
        version = anyio.run(migrate_store, Settings(db=Path(settings.db)))
    except (OSError, StoreError) as exc:
        fail(f"cannot open {settings.db}: {exc}", code=1)
    if as_json:
        json_lines([{"db": str(settings.db), "schema_version": version}])
    else:
        out.print(f"ok: {settings.db} is at schema version {version}", markup=False)
