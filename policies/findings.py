"""What `signoff policy lint` warns about: rules that load but cannot do what they say.

A finding is not a load error. The policy is valid and the gate runs it as
written; a finding says that some rule in it can never take part in a decision
(it never matches, or whenever it matches another rule decides instead), or
that an ask it makes can never be approved by the principals on file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Check = Literal["never_matches", "condition_errors", "shadowed", "unapprovable"]
# The order findings about one rule are listed in.
CHECKS: tuple[Check, ...] = ("never_matches", "condition_errors", "shadowed", "unapprovable")


@dataclass(frozen=True, slots=True)
class Finding:
    """One warning about one rule, located like a load problem."""

    check: Check
    source: str
    line: int | None
    rule_id: str
    message: str
    # For `shadowed`: the rules that decide instead, strongest first.
    by: tuple[str, ...] = ()
    # For `unapprovable`: the tenant where no quorum can form.
    tenant: str | None = None

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        return f"{where}: rule {self.rule_id!r}: warning: {self.message}"
