"""How much does a domain query's `reader.search` cost over the bare FTS5
query it runs?

    python bench/bench_search.py [--quick] [--json] [--rounds N] [--docs N] [--dir PATH]

Seeds one projection of one tenant with `--docs` documents (100 000; 10 000
with --quick), and another tenant with a hundredth as many, each with a
search text of 20-60 words drawn Zipf-like from a 5 000-word vocabulary, by
bulk SQL into the real table (its FTS5 triggers index them), not through
the write path. Then, rounds alternating:

- search: each query as a domain query asks it, one `Store.read` each,
  `ReadModelReader.search(projection, query, limit=10)` (tokenising, the
  ranked join to the documents in the tenant's active generation, the
  documents decoded into SearchHits);
- search, in one read: every query inside one `Store.read` (no thread hop
  per query: what a query running several searches pays for each);
- bare FTS5: the adapter's own ranked query for the same words (its scope
  word for the projection and tenant ANDed with them, bm25 over the text),
  straight through sqlite3 on the same file, with nothing joined or decoded.

- small tenant: `search` in a tenant holding a hundredth as many documents
  beside the big one (the index narrows to one scope: the big tenant's
  matches cost it nothing).

Per round each arm's figure is its mean µs per query over the query set;
the rows are the medians of the per-round ratios with their spread.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import time
from pathlib import Path
from typing import Any

from benchlib import emit, err, fresh, parser, workdir
from rounds import Row, alternate, ratio_row, value_row

from signoff.server.domain import Domain
from signoff.server.services.queries import TxReader
from signoff.server.state.aggregates import Upcaster
from signoff.store.ports import UnitOfWork
from signoff.store.search_terms import fts5_match, terms
from signoff.store.sqlite.read_models import scope_word
from signoff.store.sqlite.store import SqliteStore

BENCH = "search"
TENANT, SMALL_TENANT, PROJECTION = "acme", "globex", "memory"
VOCABULARY = 5_000
LIMIT = 10
# The adapter's own ranked FTS5 query (its scope word ANDed with the words,
# bm25 over the text), without the join to the documents or their decoding.
BARE = ("SELECT rowid, bm25(read_models_search, 1.0, 0.0) AS score FROM read_models_search "
        "WHERE read_models_search MATCH ? ORDER BY score, rowid LIMIT ?")


def vocabulary(rng: random.Random) -> list[str]:
    """Pronounceable made-up words, distinct, the commonest first."""
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    words: dict[str, None] = {}
    while len(words) < VOCABULARY:
        words["".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))] = None
    return list(words)


def texts(count: int, words: list[str], rng: random.Random) -> list[str]:
    """Word k is drawn with weight 1/(k+1) (Zipf's law, as natural text)."""
    weights = [1 / (k + 1) for k in range(len(words))]
    return [" ".join(rng.choices(words, weights, k=rng.randint(20, 60))) for _ in range(count)]


def queries(words: list[str], rng: random.Random) -> list[str]:
    """Questions as a user or model asks them: two to four words, some common,
    mostly from the middle of the vocabulary, with punctuation around."""
    out = []
    for n in range(24):
        picked = [words[rng.randint(20, 2_000)] for _ in range(rng.randint(2, 4))]
        if n % 4 == 0:
            picked[0] = words[rng.randint(0, 19)]  # one very common word
        out.append(f"What about {' '.join(picked)}?" if n % 3 == 0 else ", ".join(picked))
    return out


def seed(path: Path, count: int) -> tuple[list[str], float]:
    """`count` documents with texts in TENANT, and a hundredth as many in
    SMALL_TENANT, inserted by bulk SQL; the queries, and how long seeding took."""
    rng = random.Random(15)
    words = vocabulary(rng)
    started = time.perf_counter()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")  # setup, not measured; checkpointed after
    conn.execute("BEGIN")
    for tenant, size in ((TENANT, count), (SMALL_TENANT, count // 100)):
        for start in range(0, size, 10_000):
            batch = texts(min(10_000, size - start), words, rng)
            conn.executemany(
                "INSERT INTO read_models (projection, generation, tenant_id, key, ix, doc, "
                "search_text) VALUES (?, 0, ?, ?, NULL, ?, ?)",
                [(PROJECTION, tenant, f"mem-{start + i:06d}",
                  json.dumps({"id": f"mem-{start + i:06d}", "text": text}), text)
                 for i, text in enumerate(batch)])
            err.print(f"  seeded {start + len(batch):,}/{size:,} documents of {tenant}",
                      end="\r")
    conn.execute("COMMIT")
    err.print()
    conn.execute("INSERT INTO read_models_search (read_models_search) VALUES ('optimize')")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return queries(words, rng), time.perf_counter() - started


def mean_us(started: float, n: int) -> float:
    return (time.perf_counter() - started) / n * 1e6


async def run(folder: Path, count: int, rounds: int) -> list[Row]:
    path = fresh(folder, "search.db")
    store = SqliteStore(path)
    await store.open()
    await store.close()  # migrated: the schema is there to seed into
    asked, seeded_s = seed(path, count)
    store = SqliteStore(path)
    await store.open()
    bare = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    scope = scope_word(PROJECTION, 0, TENANT)
    matches = [f'search_scope : "{scope}" AND search_text : ({fts5_match(terms(q))})'
               for q in asked]
    hits: dict[str, int] = {}
    upcaster = Upcaster(Domain(name="bench", aggregates=(), commands=()))  # no events read

    def search_one(uow: UnitOfWork, query: str, tenant: str = TENANT) -> int:
        return len(TxReader(uow, tenant, upcaster).search(PROJECTION, query, limit=LIMIT))

    def search_all(uow: UnitOfWork) -> int:
        return sum(search_one(uow, q) for q in asked)

    async def small_tenant() -> float:
        started = time.perf_counter()
        for q in asked:
            await store.read(lambda uow, q=q: search_one(uow, q, SMALL_TENANT))
        return mean_us(started, len(asked))

    async def one_read_each() -> float:
        started, found = time.perf_counter(), 0
        for q in asked:
            found += await store.read(lambda uow, q=q: search_one(uow, q))
        hits["search"] = found
        return mean_us(started, len(asked))

    async def one_read() -> float:
        started = time.perf_counter()
        hits["one read"] = await store.read(search_all)
        return mean_us(started, len(asked))

    def bare_fts5() -> float:
        started, found = time.perf_counter(), 0
        for match in matches:
            found += len(bare.execute(BARE, (match, LIMIT)).fetchall())
        hits["bare"] = found
        return mean_us(started, len(asked))

    try:
        for _ in range(2):  # warm the page cache and both connections
            await one_read_each()
            bare_fts5()
        got = await alternate({"search": one_read_each, "search, in one read": one_read,
                               "bare FTS5": bare_fts5, "small tenant": small_tenant}, rounds)
    finally:
        bare.close()
        await store.close()
    assert hits["search"] == hits["one read"], hits
    detail: dict[str, Any] = {"documents": count, "queries": len(asked), "limit": LIMIT,
                              "hits_per_query": hits["bare"] / len(asked),
                              "seed_seconds": round(seeded_s, 1),
                              "db_mb": round(path.stat().st_size / 1e6, 1)}
    scale = f"{count // 1000}k" if count >= 1000 else str(count)
    return [
        ratio_row(BENCH, f"search over {scale} docs ÷ bare FTS5 query",
                  ("search", got["search"]), ("bare FTS5", got["bare FTS5"]), unit="µs",
                  **detail),
        ratio_row(BENCH, f"search over {scale} docs, in one read ÷ bare FTS5 query",
                  ("search, in one read", got["search, in one read"]),
                  ("bare FTS5", got["bare FTS5"]), unit="µs", **detail),
        value_row(BENCH, f"search latency over {scale} docs", got["search"], "µs"),
        value_row(BENCH, f"bare FTS5 query latency over {scale} docs", got["bare FTS5"], "µs"),
        value_row(BENCH, f"search latency in a {count // 100:,}-doc tenant beside the {scale}",
                  got["small tenant"], "µs"),
    ]


async def main() -> int:
    p = parser(__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--docs", type=int, default=None, help="documents seeded")
    args = p.parse_args()
    count = args.docs or (10_000 if args.quick else 100_000)
    with workdir(args.dir) as folder:
        rows = await run(folder, count, args.rounds or (5 if args.quick else 11))
    emit(rows, args.json, "reader.search vs a bare FTS5 query")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
