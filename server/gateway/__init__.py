"""The gateway: existing MCP servers behind the gate (reads pass through, writes become proposals)."""
