"""Removing someone from the principals file revokes them without a restart."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from signoff.policies import PrincipalsFile
from signoff.server.app import example_file

EXAMPLE = example_file("principals.toml")


def without(text: str, principal_id: str) -> str:
    blocks = text.split("[[principal]]")
    return "[[principal]]".join(b for b in blocks if f'id = "{principal_id}"' not in b)


def test_a_removed_principal_is_gone_at_the_next_check(tmp_path: Path) -> None:
    path = tmp_path / "principals.toml"
    shutil.copy(EXAMPLE, path)
    principals = PrincipalsFile(path, min_interval=0)
    assert principals.get("user:bob") is not None
    assert principals.by_token("demo-bob") is not None
    path.write_text(without(EXAMPLE.read_text(), "user:bob"))
    assert principals.get("user:bob") is None
    assert principals.by_token("demo-bob") is None
    assert principals.get("user:alice") is not None


def test_a_broken_edit_keeps_the_last_good_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "principals.toml"
    shutil.copy(EXAMPLE, path)
    principals = PrincipalsFile(path, min_interval=0)
    path.write_text("[[principal]]\nid = 'x'\nkind = 'robot'\n")
    assert principals.get("user:alice") is not None
    assert "keeping the principals loaded before" in caplog.text


def test_changes_are_checked_at_most_once_per_interval(tmp_path: Path) -> None:
    path = tmp_path / "principals.toml"
    shutil.copy(EXAMPLE, path)
    principals = PrincipalsFile(path, min_interval=3600)
    path.write_text(without(EXAMPLE.read_text(), "user:bob"))
    assert principals.get("user:bob") is not None  # not re-checked within the hour
