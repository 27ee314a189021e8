"""`signoff export runs|decisions`: the history as dataset files.

One JSON line per agent run, or per decided proposal, in the format asked
for (`jsonl`, `openai-chat`, `inspect`), to stdout or `--out FILE` (written
beside it and renamed when complete, so a failed export leaves no half
file). A progress bar on stderr for large exports; one line on stderr when
the store was recorded before it kept something a line needs.
"""

from __future__ import annotations

import gc
import os
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Annotated, TextIO

import anyio
import typer
from rich.progress import Progress

from signoff.server.cli.common import err, escape, fail, open_app
from signoff.server.cli.policy_replay import parse_since
from signoff.server.cli.settings import DbFlag, DomainFlag, settings_of
from signoff.server.observability import domain_sensitive_fields
from signoff.server.ops import ExportFormat as Format
from signoff.server.ops import ExportKind as Kind
from signoff.server.ops import (
    Line,
    Selection,
    dump_line,
    export_decisions,
    export_runs,
    export_total,
    shaped,
)
from signoff.store.datasets import ExportUnsupported

PROGRESS_FROM = 1000  # lines; a smaller export is over before a bar would help

export_app = typer.Typer(
    help="Write the history as datasets: agent runs, or decided proposals, one JSON line each.",
    no_args_is_help=True)

FormatFlag = Annotated[Format, typer.Option(
    "--format", help="jsonl (signoff's own lines), openai-chat (the chat fine-tuning shape, "
    "with tool_calls) or inspect (Inspect AI samples).")]
SinceFlag = Annotated[str | None, typer.Option(
    help="Only what began this recently: 30m, 12h, 7d, 2w (default: all).")]
TenantFlag = Annotated[str | None, typer.Option(help="Only this tenant's.")]
OutFlag = Annotated[Path | None, typer.Option(
    "--out", dir_okay=False, help="Write to this file (default: stdout).")]


@export_app.command("runs")
def runs(shape: FormatFlag = "jsonl", since: SinceFlag = None, tenant: TenantFlag = None,
         out: OutFlag = None, db: DbFlag = None, domain: DomainFlag = None) -> None:
    """One line per agent run: its tool calls in order, with arguments,
    results, and each proposal's decision and verdict."""
    _export("runs", shape, since, tenant, out, db, domain)


@export_app.command("decisions")
def decisions(shape: FormatFlag = "jsonl", since: SinceFlag = None, tenant: TenantFlag = None,
              out: OutFlag = None, db: DbFlag = None, domain: DomainFlag = None) -> None:
    """One line per decided proposal: what the agent read before proposing,
    the proposal, the policy's decision (rule, effect, reason, the input it
    judged) and the reviewers' verdict with its reason."""
    _export("decisions", shape, since, tenant, out, db, domain)


class _Tally:
    def __init__(self) -> None:
        self.written = 0
        self.lacking = 0
        self.missing: Counter[str] = Counter()
        self.left_out = 0


def _export(kind: Kind, shape: Format, since: str | None, tenant: str | None,
            out: Path | None, db: str | None, domain: str | None) -> None:
    window = parse_since(since) if since is not None else None
    settings = settings_of(db=db, domain=domain)

    async def run() -> _Tally:
        async with open_app(settings) as app:
            selection = Selection(app.clock() - window if window else None, tenant)
            sensitive = domain_sensitive_fields(app.domain)
            total = await export_total(app.store, kind, selection)
            source = export_runs if kind == "runs" else export_decisions
            with _bar(total, kind) as advance, _opened(out) as sink, _collector_paused():
                return await _write(kind, shape, source(app.store, selection, sensitive,
                                                         advance), sink)

    try:
        tally = anyio.run(run)
    except ExportUnsupported as exc:
        fail(escape(str(exc)), code=2)
        raise
    _report(kind, tally, out)


async def _write(kind: Kind, shape: Format, lines: AsyncIterator[Line], sink: TextIO) -> _Tally:
    tally = _Tally()
    async for line in lines:
        missing = line.doc.get("missing") or []
        tally.lacking += bool(missing)
        tally.missing.update(missing)
        doc, left_out = shaped(kind, line.doc, shape)
        tally.left_out += left_out
        if doc is None:
            continue
        sink.write((line.text if doc is line.doc else dump_line(doc)) + "\n")
        tally.written += 1
    return tally


def _bar(total: int, kind: Kind) -> AbstractContextManager[Callable[[int], None]]:
    if total < PROGRESS_FROM:
        return nullcontext(lambda _n: None)
    return _Bar(total, kind)


class _Bar:
    """The export's progress on stderr, for as long as it runs."""

    def __init__(self, total: int, kind: Kind) -> None:
        self._progress = Progress(console=err, transient=True)
        self._task = self._progress.add_task(
            "runs" if kind == "runs" else "proposals", total=total)

    def __enter__(self) -> Callable[[int], None]:
        self._progress.start()
        return lambda n: self._progress.advance(self._task, n)

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cycle collector off while the export runs. An export makes no
    reference cycles, only documents it drops page by page, but so many of
    them that the collector's passes over the whole app took a quarter of a
    large export's time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def _opened(path: Path | None) -> Iterator[TextIO]:
    """stdout, or `path` written as `path.partial` and renamed once complete."""
    if path is None:
        yield sys.stdout
        return
    partial = Path(f"{path}.partial")
    try:
        with partial.open("w", encoding="utf-8") as file:
            yield file
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, path)


def _report(kind: Kind, tally: _Tally, out: Path | None) -> None:
    what = "run(s)" if kind == "runs" else "decision(s)"
    if tally.lacking:
        lacks = ", ".join(sorted(tally.missing))
        err.print(f"signoff: {tally.lacking} {what} recorded before signoff kept all an "
                  f"export holds: they lack {lacks} (each line's `missing` says what)"
                  + (f"; {tally.left_out} call(s) without recorded arguments were left out"
                     if tally.left_out else ""), highlight=False, markup=False)
    if out is not None:
        err.print(f"signoff: wrote {tally.written} {what} to {out}", highlight=False,
                  markup=False)
