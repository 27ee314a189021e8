"""Token counts, by a real tokenizer: the one function everything that
budgets tokens asks.

`o200k_base` (the encoding of OpenAI's GPT-4o family) from `bpe-openai`,
whose wheel ships the encoding's data: nothing is downloaded on first use
(as `tiktoken` would), so it counts on a machine without internet. Text is
counted as plain text: a special-token string in it (`<|endoftext|>`) is
counted as the characters it is, never as a control token.

`count_within` answers "does it fit in `limit`, and how many if so".
"""

from __future__ import annotations

import warnings
from functools import cache
from typing import Any, Final

ENCODING: Final = "o200k_base"


class TokenizerMissing(RuntimeError):
    """The tokenizer package is not installed."""


@cache
def _encoding() -> Any:
    # bpe-openai 0.1 reads its bundled data with importlib.resources.open_binary,
    # deprecated since Python 3.11: harmless, and only while loading.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import bpe_openai
        except ImportError as exc:  # an optional dependency: say how to get it
            raise TokenizerMissing("the assistant example counts tokens with bpe-openai: "
                                   "pip install 'signoff[assistant]'") from exc
        return bpe_openai.get_encoding(ENCODING)


def count_tokens(text: str) -> int:
    """How many tokens `text` is in `ENCODING`."""
    return len(_encoding().encode_ordinary(text)) if text else 0


def count_within(text: str, limit: int) -> int | None:
    """`count_tokens(text)` if it is at most `limit`, else None.

    Counted in full through the encoding's public API: bpe-openai's Rust
    backend can stop at a limit, but only behind a private attribute, which
    a minor release may rename without notice."""
    counted = count_tokens(text)
    return counted if counted <= limit else None
