"""Migration V3: full-text search over read models (issue 15).

A document may carry a search text (`read_models.search_text`); its
`tsvector` is a generated column, parsed with the 'simple' configuration
(lower-cased words, no stemming and no stop words: the texts are in any
language), and a GIN index over the rows that have one finds the matches.
Being columns of the document's row, text and vector come and go with it:
a put replaces them, a deleted document or a dropped generation takes them
along, and a rebuild's fresh generation is searched once it is active.
"""

from __future__ import annotations

V3 = """
ALTER TABLE read_models ADD COLUMN search_text text,
    ADD COLUMN search_vector tsvector
        GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, search_text)) STORED;
CREATE INDEX read_models_search ON read_models USING gin (search_vector)
    WHERE search_vector IS NOT NULL;
"""
