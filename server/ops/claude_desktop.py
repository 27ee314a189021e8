"""Adding signoff to Claude Desktop's `claude_desktop_config.json`.

Claude Desktop launches each entry of `mcpServers` as a stdio subprocess. The
entry written here runs this installation's `signoff` executable (absolute
path: Claude Desktop does not use the shell's PATH) with an absolute database
path and the principal/tenant the agent acts as. Every other server and every
other top-level key of the file is kept; a file that is not valid JSON is
refused and left untouched, since rewriting it would lose the user's settings.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from signoff.server.errors import SignoffError

CONFIG_NAME = "claude_desktop_config.json"


class ConfigFileError(SignoffError):
    """The existing config file cannot be merged into."""


def default_config_path(platform: str = sys.platform, env: Mapping[str, str] = os.environ,
                        home: Path | None = None) -> Path:
    """Where Claude Desktop keeps its config on this OS."""
    home = home or Path.home()
    if platform == "darwin":
        return home / "Library" / "Application Support" / "Claude" / CONFIG_NAME
    if platform.startswith("win"):
        appdata = env.get("APPDATA")
        base = Path(appdata) if appdata else home / "AppData" / "Roaming"
        return base / "Claude" / CONFIG_NAME
    config_home = env.get("XDG_CONFIG_HOME")
    return (Path(config_home) if config_home else home / ".config") / "Claude" / CONFIG_NAME


def signoff_executable() -> str:
    """The absolute path of the `signoff` command of this installation: the
    one beside this Python first (a venv's, not a shim that could later point
    at another Python), else the one on PATH, else how we were started."""
    script = "signoff.exe" if sys.platform.startswith("win") else "signoff"
    beside = Path(sys.executable).parent / script
    if beside.is_file():
        return str(beside.absolute())
    found = shutil.which("signoff")
    if found:
        return str(Path(found).resolve())
    return str(Path(sys.argv[0]).resolve())


def server_entry(executable: str, db: Path, principal: str, tenant: str) -> dict[str, Any]:
    return {
        "command": executable,
        "args": ["serve", "--db", str(db.resolve()), "--principal", principal,
                 "--tenant", tenant],
    }


def merged(existing: str | None, name: str, entry: dict[str, Any]) -> dict[str, Any]:
    """The config with `mcpServers[name]` set to `entry`, all else kept."""
    if existing is None or not existing.strip():
        config: dict[str, Any] = {}
    else:
        try:
            loaded = json.loads(existing)
        except json.JSONDecodeError as exc:
            raise ConfigFileError(f"it is not valid JSON ({exc})") from None
        if not isinstance(loaded, dict):
            raise ConfigFileError("its top level is not a JSON object")
        config = loaded
    servers = config.get("mcpServers", {})
    if not isinstance(servers, dict):
        raise ConfigFileError("its mcpServers is not a JSON object")
    return {**config, "mcpServers": {**servers, name: entry}}


def install(path: Path, name: str, entry: dict[str, Any]) -> dict[str, Any]:
    """Write the merged config atomically (a crash leaves the old file whole)."""
    existing = path.read_text(encoding="utf-8") if path.exists() else None
    config = merged(existing, name, entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".claude_desktop_config.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(config, handle, indent=2)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return config
