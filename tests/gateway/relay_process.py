"""`signoff relay --once` as a process of its own, as an operator runs it:
optionally with the gateway (then it runs the invoker) and armed to kill
itself at a fault point (`SIGNOFF_CRASH_AT`, see `signoff.store.faults`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import anyio

# A bound for one relay pass that starts upstreams on a loaded machine, not
# a measurement: every assertion is on what the pass did.
PROCESS_BOUND = 300
# Settings a relay here must not inherit from the shell that runs the tests.
CLEARED = ("SIGNOFF_CRASH_AT", "SIGNOFF_GATEWAY", "SIGNOFF_POLICY", "SIGNOFF_PRINCIPALS",
           "SIGNOFF_DB", "SIGNOFF_DOMAIN", "SIGNOFF_SINKS")
OWNER = "relay-1"  # the same owner each run: a restarted relay takes its leases back at once


async def relay_once(
    db: Path, *, gateway: Path | None = None, principals: Path | None = None,
    crash_at: str | None = None, env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in CLEARED}
    if crash_at:
        environ["SIGNOFF_CRASH_AT"] = crash_at
    args = [sys.executable, "-m", "signoff.server.cli", "relay", "--once", "--db", str(db),
            "--owner", OWNER]
    if gateway is not None:
        args += ["--gateway", str(gateway)]
    if principals is not None:
        args += ["--principals", str(principals)]
    with anyio.fail_after(PROCESS_BOUND):
        done = await anyio.run_process(args, cwd=db.parent, env={**environ, **(env or {})},
                                       check=False)
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(),
                                       done.stderr.decode())
