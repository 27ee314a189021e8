"""Full-text search over one generation of one projection in one tenant.

The query is parsed as the texts are, by `to_tsvector('simple', ...)`: a
parser of text, not of query syntax, so operators and quotes in it are
words or separators, and a query word is cut exactly as the same word in a
document (an e-mail address or a host name stays one word on both sides).
Its distinct words, the first `MAX_TERMS` of them, are then quoted back
into a tsquery (`'word'`, escaped as tsquery input wants) and ORed.

PostgreSQL's rankings count how often any of the words occurs, not how
many different ones a document has, and know nothing of how rare a word
is: a document repeating one word would outrank one holding every word
once. So the score is how many of the query's words a document holds, plus
its cover density (`ts_rank_cd`, normalised by document length and scaled
into [0, 1)) to order documents holding as many.
"""

from __future__ import annotations

import re
from typing import Any

from signoff.store.postgres.sql import PgSql
from signoff.store.search_terms import MAX_TERMS, MAX_WORD, terms

# A pasted document is searched by its beginning: the words are taken from
# the first this-many characters (at least MAX_TERMS words of any length).
MAX_QUERY = MAX_TERMS * (MAX_WORD + 1)

_UNSPEAKABLE = re.compile("[\x00\ud800-\udfff]")

# 1 | 32: rank / (1 + log(length)), then rank / (rank + 1).
_SEARCH = """
WITH words AS (
    SELECT '''' || replace(replace(lexeme, '\\', '\\\\'), '''', '''''') || '''' AS word
    FROM unnest(to_tsvector('simple'::regconfig, %(query)s))
    ORDER BY positions[1], lexeme LIMIT %(terms)s
), q AS (
    SELECT array_agg(word::tsquery) AS each, string_agg(word, ' | ')::tsquery AS any
    FROM words
)
SELECT r.key, r.doc,
    (SELECT count(*) FROM unnest(q.each) AS w WHERE r.search_vector @@ w)
    + ts_rank_cd(r.search_vector, q.any, 1 | 32) AS score
FROM q, read_models AS r
WHERE r.projection = %(projection)s AND r.generation = %(generation)s
    AND r.tenant_id = %(tenant)s AND r.search_vector @@ q.any
ORDER BY score DESC, r.key LIMIT %(limit)s
"""


def search(
    db: PgSql, scope: tuple[str, int, str], query: str, limit: int
) -> list[tuple[str, str, float]]:
    """(key, doc text, score) of the best `limit` matches in `scope`
    (projection, generation, tenant), best first."""
    if limit <= 0 or not terms(query):
        return []
    projection, generation, tenant = scope
    # PostgreSQL text holds neither NUL nor a lone surrogate (which a JSON
    # string can carry): each becomes a separator, as it is on SQLite.
    text = _UNSPEAKABLE.sub(" ", query[:MAX_QUERY])
    args: dict[str, Any] = {"query": text, "projection": projection,
                            "generation": generation, "tenant": tenant, "limit": limit,
                            "terms": MAX_TERMS}
    return [(str(key), str(doc), float(score)) for key, doc, score in db.all(_SEARCH, args)]
