"""CPU use over a window, read from /proc: the whole machine's busy share and
the share of chosen processes, both as % of all cores (100 % = every core
busy the whole window), so the two can be read side by side.

/proc/stat counts ticks summed over every core, and /proc/<pid>/stat counts
one process's user + system ticks (all its threads) in the same unit, so a
process's delta over the machine's total delta is already its share of all
cores. A process that exits inside the window takes its ticks with it (the
share is then a little low); one that starts inside it counts from zero.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class Sample:
    busy: int  # ticks, all cores
    total: int
    ticks: Mapping[str, Mapping[int, int]]  # group -> pid -> user + system ticks


def machine_ticks(stat: str) -> tuple[int, int]:
    """(busy, total) ticks from /proc/stat's first line; idle and iowait are not busy
    (guest time is already inside user, so only the first eight fields add up)."""
    fields = [int(v) for v in stat.split("\n", 1)[0].split()[1:9]]
    total = sum(fields)
    return total - fields[3] - fields[4], total


def process_ticks(stat: str) -> tuple[str, int]:
    """(command name, user + system ticks) from a /proc/<pid>/stat line. The name
    sits in parentheses and may hold spaces, so the fields are counted from the
    last ')': utime and stime are the 14th and 15th fields."""
    head, _, rest = stat.rpartition(")")
    fields = rest.split()
    return head.partition("(")[2], int(fields[11]) + int(fields[12])


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:  # gone between listing and reading
        return None


def sample(pids: Mapping[str, Collection[int]], names: Collection[str] = ("postgres",)) -> Sample:
    """The counters now: `pids` groups given processes; every process whose
    command name is in `names` forms a group of that name."""
    busy, total = machine_ticks((PROC / "stat").read_text())
    ticks: dict[str, dict[int, int]] = {group: {} for group in (*pids, *names)}
    wanted = {pid: group for group, members in pids.items() for pid in members}
    for entry in os.scandir(PROC):
        if not entry.name.isdigit():
            continue
        text = _read(Path(entry.path) / "stat")
        if text is None:
            continue
        comm, used = process_ticks(text)
        pid = int(entry.name)
        if pid in wanted:
            ticks[wanted[pid]][pid] = used
        elif comm in names:
            ticks[comm][pid] = used
    return Sample(busy, total, ticks)


def shares(before: Sample, after: Sample) -> dict[str, float]:
    """% of all cores between two samples: "machine", then each group."""
    total = after.total - before.total
    if total <= 0:
        return {"machine": 0.0, **{group: 0.0 for group in after.ticks}}
    out = {"machine": 100 * (after.busy - before.busy) / total}
    for group, now in after.ticks.items():
        then = before.ticks.get(group, {})
        out[group] = 100 * sum(used - then.get(pid, 0) for pid, used in now.items()) / total
    return out
