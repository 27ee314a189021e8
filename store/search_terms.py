"""A search query's words, for the adapters' full-text search.

A query comes from a user or a model, never from a programmer: it is plain
words, not a query language. So it is cut into words here (runs of letters
and digits, as SQLite's unicode61 tokenizer and PostgreSQL's parser cut
text), and each adapter quotes every word as a literal term and ORs them:
`AND`, `NEAR`, `-`, `*`, `:` or a stray quote in a query are nothing but
separators or words, and no query can be a syntax error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

# Letters and digits of any script; the underscore (which \w also takes) is
# a separator for both tokenizers, so it is one here too.
_WORD = re.compile(r"[^\W_]+")
# A query longer than this many distinct words (a whole pasted document)
# is searched by its first ones: each term costs a posting-list walk.
MAX_TERMS = 32
# PostgreSQL refuses a lexeme over 2047 bytes; no word is this long.
MAX_WORD = 256


def words(text: str) -> Iterator[str]:
    """The text's words, lower-cased, in order (those over MAX_WORD left out)."""
    for match in _WORD.finditer(text):
        word = match.group().lower()
        if len(word) <= MAX_WORD:
            yield word


def terms(query: str) -> list[str]:
    """The query's distinct words (lower-cased), in order of appearance, the
    first MAX_TERMS of them."""
    seen: dict[str, None] = {}
    for word in words(query):
        seen.setdefault(word, None)
        if len(seen) == MAX_TERMS:
            break
    return list(seen)


def fts5_match(words: Sequence[str]) -> str:
    """An FTS5 MATCH expression finding any of `words`, each a string
    literal (a word holds no double quote, the one character to escape)."""
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in words)


def tsquery(words: Sequence[str]) -> str:
    """A `to_tsquery` text finding any of `words`, each a quoted lexeme (a
    word holds no quote or backslash, the characters to escape)."""
    return " | ".join("'" + w.replace("\\", "\\\\").replace("'", "''") + "'" for w in words)
