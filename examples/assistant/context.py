"""`build_context`: a prompt-ready block for one question, within a budget.

Memory items and document passages are searched separately (their scores
are comparable only within one search), then merged by reciprocal rank —
each candidate scores 1 / (60 + its rank in its own list), the usual RRF
constant — so the best of each list come first, memory ahead on a tie.
Lines are then taken in that order while the whole block, counted by the
tokenizer (`tokens.count_tokens`), stays within `budget_tokens`; a passage
too long for what is left is cut at a word to fit, or left out. Every line
starts with the ref it came from, and `source_refs` lists exactly those.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from signoff.examples.assistant.projections import MEMORY_VIEW, PASSAGES
from signoff.examples.assistant.tokens import ENCODING, count_tokens
from signoff.server import QueryResult, QueryType, ReadModelReader, SearchHit

HEADER: Final = "Memory and documents for this question (cite the [ref] of what you use):"
RRF_K: Final = 60
PER_SOURCE: Final = 20
MIN_CUT_WORDS: Final = 8  # a passage cut shorter than this is left out instead


class BuildContext(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=2000)
    budget_tokens: int = Field(ge=1, le=32_000, description=(
        f"The most tokens the block may take ({ENCODING})."))


class ContextLine(BaseModel):
    ref: str
    source: Literal["memory", "document"]
    text: str
    cut: bool = False


class ContextBlock(QueryResult):
    context: str = Field(description="Prompt-ready: one line per item, each starting [ref].")
    lines: list[ContextLine]
    tokens: int = Field(description=f"What `context` counts in {ENCODING}.")
    budget_tokens: int
    omitted: int = Field(description="Matching items left out for the budget.")


@dataclass(frozen=True)
class Candidate:
    ref: str
    source: Literal["memory", "document"]
    line: str
    rank_score: float


def _memory_line(hit: SearchHit) -> str:
    about = f" about {hit.doc['subject']}" if hit.doc.get("subject") else ""
    return f"[{hit.key}] memory ({hit.doc['kind']}{about}): {hit.doc['text']}"


def _passage_line(hit: SearchHit) -> str:
    return f"[{hit.key}] document \"{hit.doc['title']}\": {hit.doc['text']}"


def ranked(memory: list[SearchHit], documents: list[SearchHit]) -> list[Candidate]:
    """Both lists merged by reciprocal rank; memory first on a tie."""
    found = [Candidate(h.key, "memory", _memory_line(h), 1 / (RRF_K + rank))
             for rank, h in enumerate(memory, start=1)]
    found += [Candidate(h.key, "document", _passage_line(h), 1 / (RRF_K + rank))
              for rank, h in enumerate(documents, start=1)]
    return sorted(found, key=lambda c: -c.rank_score)  # stable: memory stays ahead


def _cut_to_fit(block: str, line: str, budget: int) -> str | None:
    """The longest word prefix of `line` (with an ellipsis) that keeps the
    block within budget, if it keeps enough words to be worth it."""
    words = line.split(" ")
    low, high, best = MIN_CUT_WORDS, len(words) - 1, None
    while low <= high:
        middle = (low + high) // 2
        cut = " ".join(words[:middle]) + " …"
        if count_tokens(f"{block}\n{cut}") <= budget:
            best, low = cut, middle + 1
        else:
            high = middle - 1
    return best


def assemble(candidates: list[Candidate], budget: int) -> tuple[str, list[ContextLine], int]:
    """The block within `budget` tokens, its lines, and how many were left out."""
    if not candidates or count_tokens(HEADER) > budget:
        return "", [], len(candidates)
    block, lines, omitted = HEADER, [], 0
    for c in candidates:
        text: str | None = c.line
        if count_tokens(f"{block}\n{c.line}") > budget:
            text = _cut_to_fit(block, c.line, budget) if c.source == "document" else None
        if text is None:
            omitted += 1
            continue
        block = f"{block}\n{text}"
        lines.append(ContextLine(ref=c.ref, source=c.source, text=text, cut=text != c.line))
    return (block, lines, omitted) if lines else ("", [], omitted)


def build_context(reader: ReadModelReader, args: BuildContext) -> ContextBlock:
    candidates = ranked(reader.search(MEMORY_VIEW, args.question, limit=PER_SOURCE),
                        reader.search(PASSAGES, args.question, limit=PER_SOURCE))
    block, lines, omitted = assemble(candidates, args.budget_tokens)
    return ContextBlock(context=block, lines=lines, tokens=count_tokens(block),
                        budget_tokens=args.budget_tokens, omitted=omitted,
                        source_refs=[line.ref for line in lines])


BUILD_CONTEXT: Final = QueryType(
    name="build_context", args=BuildContext, result=ContextBlock, run=build_context,
    description="A prompt-ready block of committed memory and document passages for a "
    f"question, best first, within budget_tokens ({ENCODING}); each line starts with the "
    "[ref] to cite. as_of_position and lag say how fresh it is.")
