"""`signoff db migrate`: create the database, or bring its schema up to date.

`serve` refuses a database that does not exist (a typo in `--db` must not
start an empty system); this is how one is made for a domain without demo
data, or for a gateway alone (`--domain none`)."""

from __future__ import annotations

import anyio
import typer

from signoff.server.app import Settings, migrate_store, shown
from signoff.server.cli.common import JsonOption, fail, json_lines, out
from signoff.server.cli.settings import DbFlag, settings_of
from signoff.store.errors import StoreError

db_app = typer.Typer(help="The database: create it or migrate its schema.", no_args_is_help=True)


@db_app.command("migrate")
def migrate(db: DbFlag = None, as_json: JsonOption = False) -> None:
    """Create the database if it does not exist and apply every migration
    (idempotent: an up-to-date database is left as it is)."""
    target = settings_of(db=db).db
    try:
        version = anyio.run(migrate_store, Settings(db=target))
    except (OSError, StoreError) as exc:
        fail(f"cannot open {shown(target)}: {exc}", code=1)
    if as_json:
        json_lines([{"db": shown(target), "schema_version": version}])
    else:
        out.print(f"ok: {shown(target)} is at schema version {version}", markup=False)
