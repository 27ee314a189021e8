"""Guards the package layout and the direction of imports (DESIGN.md, layers)."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {
    "server": "signoff.server",
    "store": "signoff.store",
    "policies": "signoff.policies",
    "examples": "signoff.examples",
}
# What each layer may import of ours. policies is pure; store never reaches up.
ALLOWED = {
    "policies": {"signoff.policies"},
    "store": {"signoff.store"},
    "server": {"signoff.server", "signoff.store", "signoff.policies"},
    "examples": {"signoff.examples", "signoff.server"},
}


@pytest.mark.parametrize("bare", ["server", "store", "policies", "examples"])
def test_no_bare_top_level_module_is_importable(bare: str) -> None:
    code = f"import importlib.util, sys; sys.exit(0 if importlib.util.find_spec({bare!r}) else 1)"
    result = subprocess.run([sys.executable, "-c", code], cwd="/", check=False)
    assert result.returncode == 1, f"a bare '{bare}' module is importable"


def _signoff_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("signoff"))
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.level == 0
            and node.module.startswith("signoff")
        ):
            found.add(node.module)
    return found


@pytest.mark.parametrize("folder", sorted(ALLOWED))
def test_imports_point_inward(folder: str) -> None:
    allowed = ALLOWED[folder]
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / folder).rglob("*.py"))
        for name in sorted(_signoff_imports(path))
        if not any(name == a or name.startswith(a + ".") for a in allowed)
    ]
    assert offenders == []


SURFACES = ("mcp", "gateway", "console", "delivery", "ops", "cli")
CORE = ("services", "state")
ROOT_MODULES = {"__init__", "domain", "errors", "clock", "observability", "app"}


def _server_modules() -> list[tuple[str, Path]]:
    """(room, path) of every module under server/: the sub-package it sits
    in, or "" for server/ itself."""
    server = ROOT / "server"
    return [
        (path.parent.name if path.parent != server else "", path)
        for path in sorted(server.rglob("*.py"))
    ]


def test_server_root_holds_only_the_face_and_the_shared_modules() -> None:
    flat = {path.stem for room, path in _server_modules() if room == ""}
    assert flat <= ROOT_MODULES, f"flat modules in server/: {sorted(flat - ROOT_MODULES)}"


@pytest.mark.parametrize("room", CORE)
def test_services_and_state_never_import_a_surface_or_the_app(room: str) -> None:
    forbidden = [f"signoff.server.{s}" for s in SURFACES] + ["signoff.server.app"]
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for where, path in _server_modules() if where == room
        for name in sorted(_signoff_imports(path))
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]
    assert offenders == []


def test_a_surface_imports_another_only_through_its_face() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for room, path in _server_modules() if room in SURFACES
        for name in sorted(_signoff_imports(path))
        for other in SURFACES
        if other != room and name.startswith(f"signoff.server.{other}.")
    ]
    assert offenders == []


def test_a_domain_needs_only_the_public_face() -> None:
    """Domains (the examples, and a user's) import signoff.server and
    nothing deeper: the face is the API that must not move."""
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / "examples").rglob("*.py"))
        for name in sorted(_signoff_imports(path))
        if not name.startswith("signoff.examples") and name != "signoff.server"
    ]
    assert offenders == []


def test_the_guards_see_a_violation(tmp_path: Path) -> None:
    """The import scanner finds both import forms, so the guards above can fail."""
    module = tmp_path / "m.py"
    module.write_text("import signoff.server.mcp.tools\nfrom signoff.server.app import App\n")
    assert _signoff_imports(module) == {"signoff.server.mcp.tools", "signoff.server.app"}


def test_every_package_is_declared() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = set(config["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join([FOLDERS[init.relative_to(ROOT).parts[0]], *init.relative_to(ROOT).parts[1:-1]])
        for folder in FOLDERS
        for init in (ROOT / folder).rglob("__init__.py")
    }
    assert on_disk == declared


def test_every_file_given_a_layer_exists() -> None:
    from tests.conftest import FILE_LAYER, TESTS

    assert [name for name in FILE_LAYER if not (TESTS / name).is_file()] == []
