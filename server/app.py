"""The composition root: settings in, a wired application out.

The one place that chooses adapters and connects anything. Nothing connects at
import time; `build_app` opens the store and `App.close` releases it.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any

from signoff.policies import Gate, Policy, load_policy
from signoff.policies.principals import Principals, PrincipalsFile
from signoff.server.clock import Clock, IdFactory, random_ids, system_clock
from signoff.server.delivery.consumers import notifier_factory
from signoff.server.delivery.domain_consumers import domain_consumer_factory
from signoff.server.domain import Domain
from signoff.server.errors import ConfigError
from signoff.server.gateway import (
    INVOKER,
    INVOKER_TOPICS,
    TOOL_CALL_EVENTS,
    GatewaySetup,
    Resolutions,
    Settler,
    call_view,
    load_setup,
)
from signoff.server.services.approvals import ApprovalService
from signoff.server.services.executor import Executor
from signoff.server.services.lifecycle import Lifecycle
from signoff.server.services.proposals import ProposalService
from signoff.server.services.queries import QueryService
from signoff.server.services.registry import CommandRegistry, ConsumerRegistry
from signoff.server.services.reviewing import ReviewService
from signoff.server.state.aggregates import Loaders, Upcaster
from signoff.server.state.committer import Committer
from signoff.server.state.seeding import seed_if_empty
from signoff.store.open import describe, is_postgres_url, open_store
from signoff.store.ports import Store
from signoff.store.postgres.schema import MIGRATIONS as POSTGRES_MIGRATIONS
from signoff.store.records import ProposalRecord
from signoff.store.sqlite.schema import MIGRATIONS
from signoff.store.sqlite.store import Synchronous

DEFAULT_DB = "signoff.db"
# Where the store lives: a SQLite file, or a `postgresql://` URL.
Database = Path | str


def is_url(db: Database) -> bool:
    """Whether `db` names a PostgreSQL database rather than a SQLite file."""
    return isinstance(db, str) and is_postgres_url(db)


# `db` as logs and output may show it: a URL's password hidden.
shown = describe


# The examples that ship with signoff, by the bare name `--domain` takes.
BUNDLED = {
    "casework": "signoff.examples.casework:build_domain",
    "assistant": "signoff.examples.assistant:build_domain",
}


def load_domain(name: str) -> Domain:
    """`casework` or `assistant` (the bundled examples), `none` (no domain: a
    gateway alone), `package.module[:factory]`, or a path to a module file or
    a package folder (`examples/notes`, `./mydomain.py:make`), so a user's
    domain needs no PYTHONPATH edits. The factory defaults to `build_domain`."""
    if name == "none":
        return Domain(name="none", aggregates=(), commands=())
    target = BUNDLED.get(name, name)
    where, _, attr = target.rpartition(":") if _has_factory(target) else (target, "", "")
    try:
        module = _module_at(where) if _is_path(where) else importlib.import_module(where)
    except (ImportError, OSError, SyntaxError) as exc:
        raise ConfigError(f"cannot load domain {name!r}: {exc}") from exc
    factory = getattr(module, attr or "build_domain", None)
    if not callable(factory):
        raise ConfigError(f"cannot load domain {name!r}: {where} defines no "
                          f"{attr or 'build_domain'}()")
    domain = factory()
    if not isinstance(domain, Domain):
        raise ConfigError(f"{target} did not return a Domain")
    return domain


def _has_factory(target: str) -> bool:
    head, sep, tail = target.rpartition(":")
    return bool(sep) and bool(head) and tail.isidentifier()


def _is_path(where: str, base: Path | None = None) -> bool:
    # Only what is written as a path (`./mydomain`, `examples/notes`, `x.py`):
    # a bare name is a module, never a folder of that name that happens to be
    # in the working directory of whoever runs signoff.
    del base
    return "/" in where or where.endswith(".py")


def anchored_domain(name: str, base: Path) -> str:
    """`name` as `load_domain` takes it, a path in it made absolute against
    `base` (module names and bundled names kept as they are): a domain named in
    a settings file or written into another program's config then loads
    whatever that program's working directory."""
    where, sep, attr = name.rpartition(":") if _has_factory(name) else (name, "", "")
    if name in BUNDLED or not _is_path(where, base):
        return name
    return str((base / where).resolve()) + sep + attr


def _module_at(where: str) -> ModuleType:
    """Import a module file or a package folder by path, under a private
    name, so its relative imports work and it shadows nothing."""
    path = Path(where).resolve()
    init = path / "__init__.py" if path.is_dir() else path
    if not init.is_file():
        raise ImportError(f"no Python module at {where}")
    name = "signoff_domain_" + hashlib.sha256(str(init).encode()).hexdigest()[:12]
    if name in sys.modules:
        return sys.modules[name]
    search = [str(path)] if path.is_dir() else None
    spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=search)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {where}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def example_file(name: str, domain: str = "casework") -> Path:
    """A file shipped with a bundled example (its policy, principals): the
    domain's own when it is one, else casework's."""
    package = BUNDLED.get(domain, BUNDLED["casework"]).partition(":")[0]
    return Path(str(resources.files(package) / name))


@dataclass(frozen=True)
class Settings:
    """What the application is built from, already resolved: the CLI reads
    flags, environment and `signoff.toml` in one place (`cli/settings.py`);
    nothing here reads the environment, so an app built in a test or a
    benchmark is what its arguments say."""

    db: Database = Path(DEFAULT_DB)
    domain: str = "casework"
    policy: Path | None = None
    principals: Path | None = None
    # A gateway file: its propose tools join the commands (from its lock).
    gateway: Path | None = None
    synchronous: Synchronous = "FULL"
    clock: Clock = system_clock
    ids: IdFactory = random_ids

    def folder(self) -> Path:
        """Where files named relative to the store go (sinks' JSONL files):
        beside a SQLite file, else in the working directory."""
        return self.db.parent if isinstance(self.db, Path) else Path.cwd()

    def policy_path(self) -> Path:
        """The policy file, else the bundled domain's demo policy (casework's)."""
        return self.policy or example_file("policy.toml", self.domain)

    def gateway_path(self) -> Path | None:
        return self.gateway

    def principals_path(self) -> Path:
        return self.principals or example_file("principals.toml", self.domain)


class GateHolder:
    """The gate in force, as a callable: services ask for it on every use, so
    a reload reaches them without rewiring. A policy that fails to load raises
    and leaves the old one in force (`Gate.reload`)."""

    def __init__(self, policy: Policy) -> None:
        self.gate = Gate(policy)

    def __call__(self) -> Gate:
        return self.gate

    def reload(self, path: Path, known_commands: list[str] | None = None) -> bool:
        return self.gate.reload(path, known_commands)


@dataclass
class App:
    """The wired application. Surfaces (MCP, console, CLI, relay) take from
    it the services they need; no service receives it."""

    settings: Settings
    store: Store
    domain: Domain
    commands: CommandRegistry
    consumers: ConsumerRegistry
    gate: GateHolder
    principals: Principals
    upcaster: Upcaster
    loaders: Loaders
    committer: Committer
    executor: Executor
    proposals: ProposalService
    approvals: ApprovalService
    reviews: ReviewService
    queries: QueryService
    # With a gateway file: what it declares, and who settles unknown outcomes.
    gateway: GatewaySetup | None
    settler: Settler
    resolutions: Resolutions
    clock: Clock
    ids: IdFactory

    async def seed_if_empty(self) -> int:
        return await seed_if_empty(self.store, self.domain, self.committer)

    async def close(self) -> None:
        await self.store.close()

    async def __aenter__(self) -> App:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def build_app(settings: Settings) -> App:
    domain = load_domain(settings.domain)
    commands = CommandRegistry()
    commands.add(domain.commands, source=f"domain {domain.name}")
    gateway_path = settings.gateway_path()
    gateway = load_setup(gateway_path) if gateway_path is not None else None
    if gateway is not None:
        commands.add(gateway.commands, source=gateway.source)
    policy = load_policy(settings.policy_path(), commands.names())
    principals = PrincipalsFile(settings.principals_path())
    gate = GateHolder(policy)
    clock, ids = settings.clock, settings.ids
    upcaster = Upcaster(domain, extra=TOOL_CALL_EVENTS)
    loaders = Loaders(upcaster)
    committer = Committer(domain, upcaster, clock, ids)
    lifecycle = Lifecycle(clock, ids)
    store = await open_store(settings.db, synchronous=settings.synchronous)
    executor = Executor(commands=commands, gate=gate, committer=committer, loaders=loaders,
                        lifecycle=lifecycle, clock=clock, ids=ids)
    proposals = ProposalService(
        store=store, commands=commands, citations=domain.evidence, gate=gate,
        executor=executor, lifecycle=lifecycle, loaders=loaders, clock=clock, ids=ids)
    consumers = ConsumerRegistry()
    # Upstream calls wait for a relay that runs the invoker: one built without
    # the gateway file must leave them too, not publish them and mark them done.
    consumers.reserve(INVOKER, INVOKER_TOPICS)
    settler = Settler(committer=committer, loaders=loaders, lifecycle=lifecycle)
    for notification in domain.notifications:
        consumers.add(notification.name, notifier_factory(
            notification, store=store, submit=proposals.submit, principals=principals,
            clock=clock))
    for consumer in domain.consumers:
        consumers.add(consumer.name, domain_consumer_factory(
            consumer, store=store, submit=proposals.submit, principals=principals, clock=clock))
    return App(
        settings=settings, store=store, domain=domain, commands=commands, consumers=consumers,
        gate=gate, principals=principals, upcaster=upcaster, committer=committer,
        executor=executor, loaders=loaders, proposals=proposals,
        approvals=ApprovalService(store, executor, lifecycle, clock, ids),
        reviews=ReviewService(
            store=store, commands=commands, citations=domain.evidence,
            projections=domain.projections, principals=principals, executor=executor,
            clock=clock, describe_call=_call_describer(gateway)),
        queries=QueryService(store, domain, upcaster, lambda p, q: gate().policy.may_query(p, q)),
        gateway=gateway, settler=settler,
        resolutions=Resolutions(store=store, settler=settler, settles=domain.settles,
                                submit=proposals.submit),
        clock=clock, ids=ids,
    )


async def migrate_store(settings: Settings) -> int:
    """Create the database if it is missing and migrate its schema; nothing
    else is loaded (no domain, policy or principals). Returns the version."""
    store = await open_store(settings.db, synchronous=settings.synchronous)
    await store.close()
    return len(POSTGRES_MIGRATIONS if is_url(settings.db) else MIGRATIONS)


def _call_describer(
    gateway: GatewaySetup | None,
) -> Callable[[ProposalRecord], dict[str, Any] | None]:
    """What reviewers are shown of an upstream call, from the gateway's lock."""
    def describe(proposal: ProposalRecord) -> dict[str, Any] | None:
        view = call_view(gateway, proposal) if gateway is not None else None
        return view.model_dump(mode="json") if view is not None else None

    return describe
