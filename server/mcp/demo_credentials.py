"""Demo principals exist only on a demo.

The casework and notes examples' principals files say `demo = true`: their
token digests are of public tokens ("demo-alice"), which anyone can present.
`signoff serve` accepts such a file's principals only when it runs as a demo:
with `--demo`, or on a database that holds a demo's seed data (what
`signoff demo` and `serve --demo` write first; the seeder's events are the
database's first, and no one else's can be, so the database remembers that
it is a demo). Anywhere else the server does not start, and says to name a
principals file of one's own. A server whose bearer tokens include a demo
file's says so loudly when it starts.
"""

from __future__ import annotations

from signoff.policies import Principals
from signoff.server.errors import SignoffError
from signoff.server.state.seeding import SEEDER
from signoff.store.ports import Store, UnitOfWork


class DemoPrincipalsError(SignoffError):
    """A demo principals file where the server is not a demo."""

    code = "demo_principals"


def _seeded(uow: UnitOfWork) -> bool:
    first = uow.events.read_after(0, 1)
    return bool(first) and first[0].actor_id == SEEDER.id


async def is_demo_database(store: Store) -> bool:
    """Whether the database's history begins with a demo's seed data."""
    return await store.read(_seeded)


def check_demo_principals(principals: Principals, *, demo: bool) -> None:
    """Refuse a demo principals file unless the server runs as a demo."""
    if principals.demo and not demo:
        raise DemoPrincipalsError(
            f"{principals.source} holds the demo principals (demo = true), whose tokens are "
            "public; they exist only on a demo database (`signoff demo`) or with --demo. "
            "Pass --principals (or set SIGNOFF_PRINCIPALS) to name your own principals file")


def demo_warning(principals: Principals, demo_tokens: int) -> str | None:
    """The line a server prints when it accepts a demo file's public tokens."""
    if not principals.demo or demo_tokens == 0:
        return None
    return (f"WARNING: DEMO CREDENTIALS ARE LIVE: {demo_tokens} bearer token(s) of the demo "
            f"principals in {principals.source} are accepted, and anyone can compute them "
            "(\"demo-alice\", ...). Never expose this server beyond this machine; pass "
            "--tokens or --principals for real credentials.")
