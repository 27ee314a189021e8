"""V8, full-text search over read models (issue 15).

A document may carry a search text (`read_models.search_text`), indexed by
an FTS5 table, `read_models_search`, that keeps only the index: its content
is the read_models table itself (an external-content table), so the text
is stored once, beside its document. Triggers keep the index in step with
every insert, update and delete of a row, whoever writes it: a put that
replaces the text re-indexes it, a put without one takes the document out
of search, and a deleted row (a document deleted, a generation dropped when
its successor is activated) leaves no term behind. So search follows the
read model's generations with nothing of its own to swap.

An external-content index names rows by rowid, and VACUUM may renumber the
rowids of a table without an INTEGER PRIMARY KEY, which would point the
index at the wrong documents. So read_models is rebuilt with one (`id`),
its key (projection, generation, tenant, key) kept as a UNIQUE constraint:
the same two B-trees as before, since a composite primary key was already
an index beside the rowid. Read models are derived, the copy is cheap.

The index has a second column, `search_scope`: a generated column of the
document's row making one word of its projection, generation and tenant
(each id's bytes in hex, `x` between), so a search narrows its match to
one scope inside the index instead of filtering every match afterwards.

The tokenizer is unicode61 with diacritics removed: case and accents do not
separate words, and letters and digits of any script make them.
"""

from __future__ import annotations

V8 = """
CREATE TABLE read_models_v8 (
    id INTEGER PRIMARY KEY,
    projection TEXT NOT NULL,
    generation INTEGER NOT NULL,
    tenant_id TEXT NOT NULL,
    key TEXT NOT NULL,
    ix TEXT,
    doc TEXT NOT NULL,
    search_text TEXT,
    search_scope TEXT GENERATED ALWAYS AS (
        hex(projection) || 'x' || generation || 'x' || hex(tenant_id)) VIRTUAL,
    UNIQUE (projection, generation, tenant_id, key)
);
INSERT INTO read_models_v8 (projection, generation, tenant_id, key, ix, doc)
    SELECT projection, generation, tenant_id, key, ix, doc FROM read_models
    ORDER BY projection, generation, tenant_id, key;
DROP TABLE read_models;
ALTER TABLE read_models_v8 RENAME TO read_models;
CREATE INDEX read_models_by_index ON read_models (projection, generation, tenant_id, ix);
CREATE VIRTUAL TABLE read_models_search USING fts5(
    search_text, search_scope, content='read_models', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER read_models_search_insert AFTER INSERT ON read_models
WHEN new.search_text IS NOT NULL
BEGIN INSERT INTO read_models_search (rowid, search_text, search_scope)
    VALUES (new.id, new.search_text, new.search_scope);
END;
CREATE TRIGGER read_models_search_delete AFTER DELETE ON read_models
WHEN old.search_text IS NOT NULL
BEGIN INSERT INTO read_models_search (read_models_search, rowid, search_text, search_scope)
    VALUES ('delete', old.id, old.search_text, old.search_scope);
END;
CREATE TRIGGER read_models_search_update AFTER UPDATE OF search_text ON read_models
WHEN old.search_text IS NOT new.search_text
BEGIN
    INSERT INTO read_models_search (read_models_search, rowid, search_text, search_scope)
        SELECT 'delete', old.id, old.search_text, old.search_scope
        WHERE old.search_text IS NOT NULL;
    INSERT INTO read_models_search (rowid, search_text, search_scope)
        SELECT new.id, new.search_text, new.search_scope WHERE new.search_text IS NOT NULL;
END;
"""
