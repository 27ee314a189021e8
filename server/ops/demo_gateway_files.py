"""The files `signoff demo gateway` writes beside its scratch repository."""

GATEWAY = """\
# The demo's gateway file: mcp-server-git on a scratch repository.
[[upstream]]
name = "repo"
command = ["mcp-server-git", "--repository", "{repo}"]
timeout = "30s"

[upstream.env]
GIT_AUTHOR_NAME = "signoff demo"
GIT_AUTHOR_EMAIL = "demo@example.org"
GIT_COMMITTER_NAME = "signoff demo"
GIT_COMMITTER_EMAIL = "demo@example.org"
HOME = "{home}"

[upstream.tools]
read = ["git_status", "git_log", "git_diff*", "git_show"]
propose = ["git_add", "git_commit", "git_create_branch"]
idempotent = ["git_add"]
preview = {{ git_commit = "git_diff_staged" }}
"""

POLICY = """\
# The demo's policy: reads pass through; staging is allowed; a commit or a
# branch waits for one reviewer; anything else is denied.
[queries]
default = { kinds = ["agent", "user"] }

[[rule]]
id = "repo.add.allow"
commands = ["tool.repo.git_add"]
effect = "allow"
reason = "staging changes nothing that cannot be undone"

[[rule]]
id = "repo.write.ask-reviewer"
commands = ["tool.repo.git_commit", "tool.repo.git_create_branch"]
effect = "ask"
reason = "history changes: a reviewer decides"
approvers = { roles = ["reviewer"], count = 1 }
"""

PRINCIPALS = """\
# The demo's principals (no tokens: the demo runs in one process).
[[principal]]
id = "agent:claude"
kind = "agent"
display_name = "Claude"
tenants = ["local"]
roles = []

[[principal]]
id = "user:rita"
kind = "user"
display_name = "Rita (reviewer)"
tenants = ["local"]
roles = ["reviewer"]
"""
