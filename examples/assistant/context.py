"""`build_context`: a prompt-ready block for one question, within a budget.

Memory items and document passages are searched separately (their scores
are comparable only within one search), then merged by reciprocal rank —
each candidate scores 1 / (60 + its rank in its own list), the usual RRF
constant — so the best of each list come first, memory ahead on a tie.
Lines are then taken in that order while the whole block, counted by the
tokenizer (`tokens.count_tokens`), stays within `budget_tokens`; a passage
too long for what is left is cut at a word to fit, or left out. Every line
starts with the ref it came from, and `source_refs` lists exactly those.

Each candidate is counted once, with the newline that follows it in the
block: a line starts with "[", and the encoding's pre-tokenizer always
splits between a newline and a "[", so the block's count is the sum of its
pieces' (the last newline dropped can only take a token off). The block is
still counted whole at the end, and a line dropped if it were ever over:
the budget holds by the tokenizer's count, not by that argument. Scanning
stops once what is left cannot fit the smallest of the lines still to come.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from signoff.examples.assistant.projections import MEMORY_VIEW, PASSAGES
from signoff.examples.assistant.tokens import ENCODING, count_within
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


def _cut_to_fit(line: str, room: int) -> tuple[str, int] | None:
    """The longest word prefix of `line` (with an ellipsis) whose piece fits
    in `room`, and its count, if it keeps enough words to be worth it."""
    words = line.split(" ")
    low, high, best = MIN_CUT_WORDS, len(words) - 1, None
    while low <= high:
        middle = (low + high) // 2
        cut = " ".join(words[:middle]) + " …"
        cost = count_within(f"{cut}\n", room)
        if cost is not None:
            best, low = (cut, cost), middle + 1
        else:
            high = middle - 1
    return best


def _smallest(c: Candidate, cost: int | None, room: int) -> int:
    """The fewest tokens `c` can take: whole, or for a passage cut to its
    fewest words; more than `room` if neither fits."""
    least = room + 1 if cost is None else cost
    words = c.line.split(" ")
    if c.source == "document" and len(words) > MIN_CUT_WORDS:
        cut = count_within(" ".join(words[:MIN_CUT_WORDS]) + " …\n", room)
        least = min(least, room + 1 if cut is None else cut)
    return least


def _still_to_come(candidates: list[Candidate], costs: list[int | None],
                   room: int) -> list[int]:
    """For each place, the smallest any candidate from there on can take."""
    least, smallest = [0] * len(candidates), room + 1
    for at in range(len(candidates) - 1, -1, -1):
        smallest = min(smallest, _smallest(candidates[at], costs[at], room))
        least[at] = smallest
    return least


def _block(texts: list[str]) -> str:
    return "\n".join([HEADER, *texts]) if texts else ""


def assemble(candidates: list[Candidate],
             budget: int) -> tuple[str, list[ContextLine], int, int]:
    """The block within `budget` tokens, its lines, how many were left out,
    and the block's count."""
    header = count_within(f"{HEADER}\n", budget)
    if not candidates or header is None:
        return "", [], len(candidates), 0
    room = budget - header
    costs = [count_within(f"{c.line}\n", room) for c in candidates]
    least = _still_to_come(candidates, costs, room)
    lines: list[ContextLine] = []
    for at, c in enumerate(candidates):
        if room < least[at]:
            break  # nothing from here on fits
        cost, text = costs[at], c.line
        if cost is None or cost > room:
            fitted = _cut_to_fit(c.line, room) if c.source == "document" else None
            if fitted is None:
                continue
            text, cost = fitted
        room -= cost
        lines.append(ContextLine(ref=c.ref, source=c.source, text=text, cut=text != c.line))
    block = _block([line.text for line in lines])
    tokens = count_within(block, budget)
    while tokens is None:  # the sum of the pieces was under the whole (see above)
        lines.pop()
        block = _block([line.text for line in lines])
        tokens = count_within(block, budget)
    return block, lines, len(candidates) - len(lines), tokens


def build_context(reader: ReadModelReader, args: BuildContext) -> ContextBlock:
    candidates = ranked(reader.search(MEMORY_VIEW, args.question, limit=PER_SOURCE),
                        reader.search(PASSAGES, args.question, limit=PER_SOURCE))
    block, lines, omitted, tokens = assemble(candidates, args.budget_tokens)
    return ContextBlock(context=block, lines=lines, tokens=tokens,
                        budget_tokens=args.budget_tokens, omitted=omitted,
                        source_refs=[line.ref for line in lines])


BUILD_CONTEXT: Final = QueryType(
    name="build_context", args=BuildContext, result=ContextBlock, run=build_context,
    description="A prompt-ready block of committed memory and document passages for a "
    f"question, best first, within budget_tokens ({ENCODING}); each line starts with the "
    "[ref] to cite. as_of_position and lag say how fresh it is.")
