"""Operations: the causal trace, the audit of the hash chain, the demo, the
Claude Desktop installer, the copy of a database into PostgreSQL and the
dataset exports. Other surfaces import from here."""

from signoff.server.ops.audit import Anchor, ChainReport, anchor_line, read_anchors, verify_chain
from signoff.server.ops.claude_desktop import (
    ConfigFileError,
    Plan,
    default_config_path,
    install,
    plan,
    server_entry,
    signoff_executable,
)
from signoff.server.ops.db_copy import CopyReport, copy_database
from signoff.server.ops.demo import AGENT, TENANT, DemoError, Step, play
from signoff.server.ops.demo_assistant import assistant_endpoints_file, play_assistant
from signoff.server.ops.demo_gateway import play_gateway
from signoff.server.ops.exports import Kind as ExportKind
from signoff.server.ops.exports import Line, Selection, export_decisions, export_runs, export_total
from signoff.server.ops.exports import dump as dump_line
from signoff.server.ops.exports_formats import Format as ExportFormat
from signoff.server.ops.exports_formats import shaped
from signoff.server.ops.replay import replay_since
from signoff.server.ops.trace import Trace, TraceStep, trace_of

__all__ = [
    "AGENT",
    "TENANT",
    "Anchor",
    "ChainReport",
    "ConfigFileError",
    "CopyReport",
    "DemoError",
    "ExportFormat",
    "ExportKind",
    "Line",
    "Plan",
    "Selection",
    "Step",
    "Trace",
    "TraceStep",
    "anchor_line",
    "assistant_endpoints_file",
    "copy_database",
    "default_config_path",
    "dump_line",
    "export_decisions",
    "export_runs",
    "export_total",
    "install",
    "plan",
    "play",
    "play_assistant",
    "play_gateway",
    "read_anchors",
    "replay_since",
    "server_entry",
    "shaped",
    "signoff_executable",
    "trace_of",
    "verify_chain",
]
