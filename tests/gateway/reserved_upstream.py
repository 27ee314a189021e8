"""A stdio MCP server whose one tool takes an argument named like one of the
arguments signoff adds to every propose tool (`rationale`): a catalogue that
cannot be pinned with it as a propose tool."""

from __future__ import annotations

from mcp.server import MCPServer

server = MCPServer("reserved")


@server.tool()
def note(text: str, rationale: str) -> str:
    """Write a note, with why."""
    return f"{text} ({rationale})"


if __name__ == "__main__":
    server.run()
