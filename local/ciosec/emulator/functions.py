"""Run the project's Lambda handlers in-process: load functions/<name>/app.py as a fresh module
under a stable name (they are all called app.py) and give them a Lambda-like context."""

from __future__ import annotations

import importlib.util
import sys
import uuid
from dataclasses import dataclass, field
from types import ModuleType

from ciosec.project import EVENTS, FUNCTIONS, ROOT

__all__ = [
    "EVENTS",
    "FUNCTIONS",
    "ROOT",
    "LambdaContext",
    "function_timeout_ms",
    "load_function",
    "module_name",
]


def module_name(name: str) -> str:
    """The name functions/<name>/app.py is imported under: the same in every run and process (a
    name that changed from run to run would change whatever is derived from it, such as
    Powertools' default idempotency key, ``<function>.<module>.<callable>#<hash>``), and distinct
    per function, since all of them are called app.py."""
    return f"{name}_app"


def load_function(name: str) -> ModuleType:
    """Import functions/<name>/app.py as a new module object under ``module_name(name)``: its
    module-level caches start empty, as in a new Lambda execution environment."""
    path = FUNCTIONS / name / "app.py"
    as_module = module_name(name)
    spec = importlib.util.spec_from_file_location(as_module, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[as_module] = module
    spec.loader.exec_module(module)
    return module


def function_timeout_ms(name: str) -> int:
    """functions/<name>'s Timeout in template.yaml (its own, else the Globals one), in ms: what a
    Lambda context says is left when an invocation starts."""
    from ciosec.emulator.template import load_template  # noqa: PLC0415 - PyYAML only when asked

    template = load_template()
    default = template.get("Globals", {}).get("Function", {}).get("Timeout", 3)
    for spec in template.get("Resources", {}).values():
        properties = spec.get("Properties", {})
        if (
            spec.get("Type") == "AWS::Serverless::Function"
            and properties.get("CodeUri") == f"functions/{name}"
        ):
            return int(properties.get("Timeout", default)) * 1000
    return int(default) * 1000


@dataclass
class LambdaContext:
    """The attributes Powertools reads from a Lambda context."""

    function_name: str = "local-function"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:local-function"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    remaining_ms: int = 30_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms
