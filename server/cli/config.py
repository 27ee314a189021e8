"""`signoff config`: each effective setting and where it came from.

The same resolution every command runs (`settings`), so what this prints is
what `serve`, `review` or `console` would use here, with these flags. A
URL's password is masked; secrets (`SIGNOFF_JWT_SECRET`, tokens) are not
settings and are never printed.
"""

from __future__ import annotations

from signoff.server.cli.common import JsonOption, escape, json_lines, out
from signoff.server.cli.project_file import PROJECT_FILE
from signoff.server.cli.settings import (
    KEYS,
    DbFlag,
    DomainFlag,
    GatewayFlag,
    PolicyFlag,
    PrincipalsFlag,
    SinksFlag,
    TokensFlag,
    settings_of,
)


def config_command(
    db: DbFlag = None, domain: DomainFlag = None, policy: PolicyFlag = None,
    principals: PrincipalsFlag = None, gateway: GatewayFlag = None, sinks: SinksFlag = None,
    tokens: TokensFlag = None, as_json: JsonOption = False,
) -> None:
    """Show each setting in effect (db, domain, policy, principals, gateway,
    sinks, tokens) and where it came from: flag, env, file (./signoff.toml,
    with its line) or default. Exit 2 if a setting does not resolve."""
    settings = settings_of(db=db, domain=domain, policy=policy, principals=principals,
                           gateway=gateway, sinks=sinks, tokens=tokens)
    rows = [{"setting": v.name, "value": v.shown(), "source": v.source, "from": v.origin,
             "env": KEYS[v.name].env} for v in settings.values.values()]
    if as_json:
        json_lines(rows)
        return
    for row in rows:  # one line each, whole however narrow: a path to copy
        origin = row["source"] if row["source"] == "default" else \
            f"{row['source']}: {row['from']}"
        out.print(f"{row['setting']:<11} {escape(row['value'] or '(none)')}  "
                  f"[dim]({escape(origin)})[/dim]", soft_wrap=True)
    project = settings.project
    out.print(f"project file: {escape(str(project))}" if project is not None
              else f"project file: none (no ./{PROJECT_FILE})")
