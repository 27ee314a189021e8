"""Starting a gateway's upstreams in a process that runs its invoker
(`serve --gateway`, `relay --gateway`): one way, for both."""

from __future__ import annotations

import os
from contextlib import AsyncExitStack

from signoff.server.app import App
from signoff.server.cli.common import fail
from signoff.server.gateway import INVOKER, GatewayRuntime, missing_env, running


async def start_gateway(app: App, stack: AsyncExitStack) -> GatewayRuntime | None:
    """The gateway's upstreams for as long as `stack` is open, and its invoker
    among the consumers (before a relay is built from them); None without a
    gateway. A missing secret exits 2, naming it."""
    if app.gateway is None:
        return None
    missing = missing_env(app.gateway.config, os.environ)
    if missing:
        fail("the gateway needs these environment variables: " + "; ".join(missing), code=2)
    runtime = await stack.enter_async_context(running(app.gateway))
    app.consumers.add(INVOKER, runtime.invoker(store=app.store, settler=app.settler,
                                               clock=app.clock))
    return runtime
