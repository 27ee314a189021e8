"""What the benchmark scripts share (run as `python bench/<name>.py`, so this
module is importable as `benchlib`)."""

from __future__ import annotations

import re
from pathlib import Path

from signoff.server.app import example_file


def fresh(folder: Path, name: str) -> Path:
    """A database path in `folder` with no file (nor WAL) left from a run before."""
    path = folder / name
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path


def bench_policy(folder: Path) -> Path:
    """The demo policy with its rate limits lifted: benchmarks propose far more
    than 500 times an hour on purpose."""
    text = example_file("policy.toml").read_text()
    text = re.sub(r"(?m)^(proposals_per_run|per_agent_per_hour)\s*=\s*\d+", r"\1 = 100000000",
                  text)
    path = folder / "bench-policy.toml"
    path.write_text(text)
    return path
