"""Tokens are counted by a real tokenizer (o200k_base), offline: with no
download cache to read and no network to fetch one, it still counts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from signoff.examples.assistant.tokens import ENCODING, count_tokens, count_within

PROGRAM = """
import json, socket
def no_network(*args, **kwargs):
    raise OSError("this test has no network")
socket.create_connection = no_network
socket.socket.connect = no_network
from signoff.examples.assistant.tokens import count_tokens
print(json.dumps([count_tokens("hello world"), count_tokens("Smoke tests keep releases honest.")]))
"""


def test_it_counts_with_no_cache_and_no_network(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "TIKTOKEN_CACHE_DIR": str(empty), "DATA_GYM_CACHE_DIR": str(empty),
           "XDG_CACHE_HOME": str(empty), "HOME": str(empty),
           "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}
    done = subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[2, 6]"
    assert list(empty.iterdir()) == []  # nothing was cached either


def test_counts_are_the_encodings_not_a_length_estimate() -> None:
    assert ENCODING == "o200k_base"
    assert count_tokens("") == 0
    assert count_tokens("hello world") == 2
    assert count_tokens("Smoke tests keep releases honest.") == 6
    assert count_tokens("a" * 400) != 100  # what len/4 would say
    # A special-token string in text is text, not a control token.
    assert count_tokens("<|endoftext|>") > 1


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=st.characters(), max_size=300) | st.just("lone \ud800 surrogate"),
       slack=st.integers(min_value=-3, max_value=3))
def test_count_within_is_the_count_when_it_fits_and_none_when_not(text: str,
                                                                  slack: int) -> None:
    """The count when it fits, None when not (lone surrogates included)."""
    full = count_tokens(text)
    limit = max(0, full + slack)
    assert count_within(text, limit) == (full if full <= limit else None)
