"""The demo's principals as fixtures (the app itself comes from tests/conftest.py)."""

from __future__ import annotations

import pytest

from signoff.policies import PrincipalFacts
from signoff.server.app import App
from tests.conftest import principal


@pytest.fixture
def agent(app: App) -> PrincipalFacts:
    return principal(app, "agent:triage")


@pytest.fixture
def alice(app: App) -> PrincipalFacts:
    return principal(app, "user:alice")


@pytest.fixture
def bob(app: App) -> PrincipalFacts:
    return principal(app, "user:bob")


@pytest.fixture
def carol(app: App) -> PrincipalFacts:
    return principal(app, "user:carol")
