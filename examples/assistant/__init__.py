"""assistant: CQRS for an LLM assistant, as a second example domain.

Memory writes and outside API calls are commands — proposals the policy in
`policy.toml` lets through, holds for the user, or refuses; retrieval and
context building are queries over read models shaped for a model: ranked
hits with refs to cite, and a prompt-ready block within a token budget.
Built only on the public domain API, as a user's domain would be:

    signoff serve --domain assistant --principal agent:assistant --tenant home --demo
"""

from __future__ import annotations

from signoff.examples.assistant.calls import CALL_COMMANDS
from signoff.examples.assistant.consumer import api_caller
from signoff.examples.assistant.context import BUILD_CONTEXT
from signoff.examples.assistant.demo_data import demo_data
from signoff.examples.assistant.events import EVENT_VERSIONS
from signoff.examples.assistant.memory import MEMORY_COMMANDS
from signoff.examples.assistant.projections import PROJECTIONS
from signoff.examples.assistant.queries import GET_API_CALL, SEARCH_MEMORY
from signoff.examples.assistant.state import API_CALL, DOCUMENT, MEMORY
from signoff.server import Domain, Settles

__all__ = ["build_domain"]


def build_domain() -> Domain:
    """A fresh Domain each call; nothing is connected or read at import time."""
    return Domain(
        name="assistant",
        aggregates=(MEMORY, DOCUMENT, API_CALL),
        commands=(*MEMORY_COMMANDS, *CALL_COMMANDS),
        queries=(SEARCH_MEMORY, BUILD_CONTEXT, GET_API_CALL),
        projections=PROJECTIONS,
        event_versions=EVENT_VERSIONS,
        # A decided call is made once by the relay, which records what came of it.
        consumers=(api_caller(),),
        # An unknown outcome is settled by a person: resolve_api_call, or
        # `signoff review resolve` on the call's proposal, which proposes it.
        settles=(Settles(aggregate=API_CALL.name, command="api.resolve", id_field="call_id"),),
        seed=demo_data,
    )
