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
    "examples": {"signoff.examples", "signoff.server", "signoff.store", "signoff.policies"},
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


def test_every_package_is_declared() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = set(config["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join([FOLDERS[init.relative_to(ROOT).parts[0]], *init.relative_to(ROOT).parts[1:-1]])
        for folder in FOLDERS
        for init in (ROOT / folder).rglob("__init__.py")
    }
    assert on_disk == declared
