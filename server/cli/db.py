"""`signoff db migrate`: create the database, or bring its schema up to date.
`signoff db copy`: move a SQLite database into an empty PostgreSQL store.

`serve` refuses a database that does not exist (a typo in `--db` must not
start an empty system); `migrate` is how one is made for a domain without
demo data, or for a gateway alone (`--domain none`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import anyio
import typer
from rich.progress import Progress, TaskID
from rich.table import Table

from signoff.server.app import Settings, is_url, migrate_store, shown
from signoff.server.cli.common import JsonOption, err, escape, fail, json_lines, out
from signoff.server.cli.settings import DbFlag, settings_of
from signoff.server.ops import CopyReport, copy_database
from signoff.store.copy import CopyRefused
from signoff.store.errors import StoreError
from signoff.store.postgres.roles import grant

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


@db_app.command("grant")
def grant_role(
    role: Annotated[str, typer.Argument(help="The role serve, relay and console connect as.")],
    db: DbFlag = None, as_json: JsonOption = False,
) -> None:
    """PostgreSQL: grant ROLE what running signoff needs and nothing more
    (facts may be added and read, never updated or deleted; nothing may be
    altered or dropped). Run it as the tables' owner, after `db migrate`."""
    target = settings_of(db=db).db
    if not isinstance(target, str) or not is_url(target):
        fail("db grant is for a PostgreSQL store: pass --db postgresql://...", code=2)
        return
    try:
        anyio.run(migrate_store, Settings(db=target))
        statements = grant(target, role)
    except StoreError as exc:
        fail(f"cannot grant on {shown(target)}: {exc}", code=1)
        return
    if as_json:
        json_lines([{"db": shown(target), "role": role, "statements": statements}])
        return
    for statement in statements:
        out.print(f"{statement};", markup=False)
    out.print(f"ok: {role} may run signoff on {shown(target)} and cannot rewrite its history",
              markup=False)


@db_app.command("copy")
def copy(
    origin: Annotated[str, typer.Option(
        "--from", help="The SQLite database file to copy (migrated to the newest schema first, "
        "otherwise left as it is).")],
    target: Annotated[str, typer.Option(
        "--to", help="The PostgreSQL store to copy into: a postgresql:// URL naming an empty "
        "database or schema.")],
    as_json: JsonOption = False,
) -> None:
    """Copy a SQLite database into an empty PostgreSQL store, in one transaction, then
    verify the target's hash chain and row counts (exit 1 if anything differs)."""
    if is_url(origin):  # checked as typed: a Path would fold the URL's `//` and show it
        fail("--from names a SQLite database file, not a URL", code=2)
    source = Path(origin)
    if not is_url(target):
        fail(f"--to must be a postgresql:// URL, not {escape(shown(target))}", code=2)
    try:
        with Progress(console=err, transient=True) as bar:
            report = anyio.run(copy_database, source, target, _Bars(bar))
    except CopyRefused as exc:
        fail(f"{escape(str(exc))}; nothing was copied", code=2)
        raise
    except StoreError as exc:
        fail(f"cannot copy {escape(str(source))} to {escape(shown(target))}: {escape(str(exc))}",
             code=1)
        raise
    if as_json:
        json_lines([{"from": str(source), "to": shown(target), **report.summary()}])
    else:
        _print_report(report, source, target)
    if not report.ok:
        fail("the copy differs from its source: " + "; ".join(
            escape(p) for p in report.problems()), code=1)


class _Bars:
    """The copy's progress on stderr: a bar per table that holds rows, and the total."""

    def __init__(self, bar: Progress) -> None:
        self._bar = bar
        self._tasks: dict[str, TaskID] = {}
        self._total: TaskID | None = None

    def planned(self, counts: Mapping[str, int]) -> None:
        self._total = self._bar.add_task("total", total=sum(counts.values()))
        for name, rows in counts.items():
            if rows:
                self._tasks[name] = self._bar.add_task(name, total=rows)

    def copied(self, table: str, rows: int) -> None:
        if table in self._tasks:
            self._bar.advance(self._tasks[table], rows)
        if self._total is not None:
            self._bar.advance(self._total, rows)


def _print_report(report: CopyReport, source: Path, target: str) -> None:
    table = Table("table", "rows")
    for name, rows in report.copied.counts.items():
        table.add_row(name, str(rows))
    out.print(table)
    if report.chain.ok:
        out.print(f"chain verified: {report.chain.checked} events, head at position "
                  f"{report.chain.head}")
    if report.ok:
        out.print(f"ok: copied {sum(report.copied.counts.values())} rows from "
                  f"{escape(str(source))} to {escape(shown(target))}")
