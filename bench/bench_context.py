"""What does the assistant's `build_context` cost over the bare FTS5 query
of the same words?

    python bench/bench_context.py [--quick] [--json] [--rounds N] [--docs N] [--dir PATH]

Seeds the assistant example's memory read model of one tenant with `--docs`
committed memory items (100 000; 10 000 with --quick) and its passages read
model with a tenth as many, shaped as its projections write them, each with
a search text of 20-60 words drawn Zipf-like (bench_search's vocabulary), by
bulk SQL into the real table (its FTS5 triggers index them), not through the
write path. Then, rounds alternating:

- build_context: the query as `signoff serve --domain assistant` runs it, one
  `Store.read` each: both searches, ranking merged, lines assembled and
  counted by the real tokenizer within a 400-token budget;
- bare FTS5: the same ranked query the adapter runs (its scope word for the
  read model and tenant ANDed with the quoted words, bm25 over the text),
  straight through sqlite3 on the same file, once per read model (the two
  searches build_context makes), nothing joined, decoded or counted.

The ratio is the median of the per-round ratios of mean µs per question.
Issue 15's goal: ≤ 3.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import time
from pathlib import Path

from bench_search import queries, texts, vocabulary
from benchlib import emit, err, fresh, parser, workdir
from rounds import Row, alternate, at_most, ratio_row, value_row

from signoff.examples.assistant import build_domain
from signoff.examples.assistant.context import PER_SOURCE, BuildContext, build_context
from signoff.examples.assistant.projections import MEMORY_VIEW, PASSAGES
from signoff.server.services.queries import TxReader
from signoff.server.state.aggregates import Upcaster
from signoff.store.ports import UnitOfWork
from signoff.store.search_terms import fts5_match, terms
from signoff.store.sqlite.read_models import scope_word
from signoff.store.sqlite.store import SqliteStore

BENCH = "context"
# The adapter's own ranked FTS5 query, without the join to the documents.
BARE = ("SELECT rowid, bm25(read_models_search, 1.0, 0.0) AS score FROM read_models_search "
        "WHERE read_models_search MATCH ? ORDER BY score, rowid LIMIT ?")
TENANT = "home"
BUDGET = 400
SAVED_AT = "2026-12-01T00:00:00+00:00"


def seed(path: Path, count: int) -> list[str]:
    """`count` memory items and a tenth as many passages; the questions."""
    rng = random.Random(15)
    words = vocabulary(rng)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")  # setup, not measured; checkpointed after
    conn.execute("BEGIN")
    insert = ("INSERT INTO read_models (projection, generation, tenant_id, key, ix, doc, "
              "search_text) VALUES (?, 0, ?, ?, ?, ?, ?)")
    for start in range(0, count, 10_000):
        batch = texts(min(10_000, count - start), words, rng)
        rows = []
        for i, text in enumerate(batch):
            key, subject = f"mem-{start + i:06d}", words[(start + i) % 50]
            doc = {"memory_id": key, "kind": "note", "subject": subject, "saved_at": SAVED_AT,
                   "text": text, "version": 1, "updated_at": SAVED_AT}
            rows.append((MEMORY_VIEW, TENANT, key, "note", json.dumps(doc), f"{subject} {text}"))
        conn.executemany(insert, rows)
        err.print(f"  seeded {start + len(batch):,}/{count:,} memory items", end="\r")
    passages = texts(max(1, count // 10), words, rng)
    conn.executemany(insert, [
        (PASSAGES, TENANT, f"doc-{n // 5:05d}#{n % 5 + 1}", f"doc-{n // 5:05d}",
         json.dumps({"ref": f"doc-{n // 5:05d}#{n % 5 + 1}", "document_id": f"doc-{n // 5:05d}",
                     "title": f"Document {n // 5}", "text": text, "version": 1}),
         f"Document {n // 5} {text}")
        for n, text in enumerate(passages)])
    conn.execute("COMMIT")
    err.print()
    conn.execute("INSERT INTO read_models_search (read_models_search) VALUES ('optimize')")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return queries(words, rng)


def mean_us(started: float, n: int) -> float:
    return (time.perf_counter() - started) / n * 1e6


async def run(folder: Path, count: int, rounds: int) -> list[Row]:
    path = fresh(folder, "context.db")
    store = await SqliteStore(path).open()
    await store.close()  # migrated: the schema is there to seed into
    asked = seed(path, count)
    store = await SqliteStore(path).open()
    bare = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    scopes = [scope_word(projection, 0, TENANT) for projection in (MEMORY_VIEW, PASSAGES)]
    matches = [[f'search_scope : "{scope}" AND search_text : ({fts5_match(terms(q))})'
                for scope in scopes] for q in asked]
    upcaster = Upcaster(build_domain())
    used: list[int] = []

    def context_of(uow: UnitOfWork, question: str) -> int:
        block = build_context(TxReader(uow, TENANT, upcaster),
                              BuildContext(question=question, budget_tokens=BUDGET))
        assert block.tokens <= BUDGET, block.tokens
        return len(block.lines)

    async def contexts() -> float:
        started, lines = time.perf_counter(), 0
        for q in asked:
            lines += await store.read(lambda uow, q=q: context_of(uow, q))
        used.append(lines)
        return mean_us(started, len(asked))

    def bare_fts5() -> float:
        started = time.perf_counter()
        for both in matches:  # build_context searches memory and passages
            for match in both:
                bare.execute(BARE, (match, PER_SOURCE)).fetchall()
        return mean_us(started, len(asked))

    try:
        for _ in range(2):  # warm the page cache, both connections and the tokenizer
            await contexts()
            bare_fts5()
        got = await alternate({"build_context": contexts, "bare FTS5": bare_fts5}, rounds)
    finally:
        bare.close()
        await store.close()
    scale = f"{count // 1000}k" if count >= 1000 else str(count)
    detail = {"memory_items": count, "passages": max(1, count // 10), "questions": len(asked),
              "budget_tokens": BUDGET, "lines_per_context": used[-1] / len(asked)}
    return [
        ratio_row(BENCH, f"build_context over {scale} memory items ÷ bare FTS5 query",
                  ("build_context", got["build_context"]), ("bare FTS5", got["bare FTS5"]),
                  at_most(3), unit="µs", **detail),
        value_row(BENCH, f"build_context latency over {scale} memory items",
                  got["build_context"], "µs"),
    ]


async def main() -> int:
    p = parser(__doc__)
    p.add_argument("--docs", type=int, default=None)
    args = p.parse_args()
    rounds = args.rounds or (5 if args.quick else 7)
    count = args.docs or (10_000 if args.quick else 100_000)
    with workdir(args.dir) as folder:
        rows = await run(folder, count, rounds)
    emit(rows, args.json, "the assistant's build_context vs a bare FTS5 query")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
