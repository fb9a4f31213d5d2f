"""What a rotation step reports: the protocol's step names and the StepResult of each step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from cio_security.rotation.kinds import KindName

__all__ = ["STEPS", "Step", "StepOutcome", "StepResult"]

Step = Literal["createSecret", "setSecret", "testSecret", "finishSecret"]
STEPS: Final[tuple[Step, ...]] = ("createSecret", "setSecret", "testSecret", "finishSecret")
"""The four steps, in the order Secrets Manager runs them."""

StepOutcome = Literal["completed", "unchanged", "already_current"]


@dataclass(frozen=True)
class StepResult:
    """What a step did: ``completed``, ``unchanged`` (a retry found it done) or
    ``already_current`` (the token's version is already AWSCURRENT). ``message`` is for the
    operator's log: it never holds a secret value; ``workspace`` is a configured name."""

    step: Step
    kind: KindName
    secret_name: str
    version_id: str
    outcome: StepOutcome
    message: str
    workspace: str = "default"
    """The workspace (``cio_security.workspaces``) the rotated secret belongs to."""
