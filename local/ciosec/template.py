"""Read template.yaml: CloudFormation's short-form tags, and just enough intrinsic-function
resolution (Ref, !Sub, !GetAtt, !If on known conditions) for the local stack and the tests to
create resources exactly as the template describes them."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


class _Loader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no type hints
    """SafeLoader that turns ``!Ref x`` into ``{"Ref": "x"}`` and ``!Sub s`` into ``{"Fn::Sub": s}``."""


def _construct(loader: _Loader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = suffix if suffix in {"Ref", "Condition"} else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_Loader.add_multi_constructor("!", _construct)


@cache
def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as plain data (cached; do not mutate)."""
    # _Loader is a SafeLoader subclass: it only adds constructors for CloudFormation's tags.
    data: dict[str, Any] = yaml.load(path.read_text(), Loader=_Loader)  # noqa: S506  # nosec B506
    return data


def resource(logical_id: str, path: Path = TEMPLATE) -> dict[str, Any]:
    """One resource's definition."""
    resources: dict[str, Any] = load_template(path)["Resources"]
    if logical_id not in resources:
        raise KeyError(f"template.yaml has no resource {logical_id}")
    found: dict[str, Any] = resources[logical_id]
    return found


class Resolver:
    """Resolves intrinsic functions against a stack name, parameter values and the physical
    names/attributes of resources created so far."""

    def __init__(
        self,
        stack_name: str,
        *,
        region: str = "eu-west-1",
        account: str = "123456789012",
        parameters: dict[str, str] | None = None,
        path: Path = TEMPLATE,
    ) -> None:
        self.template = load_template(path)
        self.pseudo = {
            "AWS::StackName": stack_name,
            "AWS::Region": region,
            "AWS::AccountId": account,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": None,
        }
        defaults = {
            name: str(spec.get("Default", "")) for name, spec in self.template.get("Parameters", {}).items()
        }
        self.parameters = {**defaults, **(parameters or {})}
        self.refs: dict[str, str] = {}
        self.attributes: dict[tuple[str, str], str] = {}

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template.get("Conditions", {})[name]))

    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic in ``value`` (recursively)."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::GetAtt":
                return self.attributes.get((arg[0], arg[1]), f"{arg[0]}.{arg[1]}")
            if key == "Fn::If":
                cond, yes, no = arg
                return self.resolve(yes if self.condition(cond) else no)
            if key == "Fn::Equals":
                left, right = (self.resolve(a) for a in arg)
                return left == right
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::Join":
                sep, parts = arg
                return sep.join(str(self.resolve(p)) for p in parts)
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(index)]
        return {k: self.resolve(v) for k, v in value.items()}

    def _ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        return self.refs.get(name, name)

    def _sub(self, arg: Any) -> str:
        text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def replace(match: re.Match[str]) -> str:
            token = match.group(1)
            if token in extra:
                return str(extra[token])
            if "." in token and token.split(".", 1)[0] not in self.pseudo:
                logical, attribute = token.split(".", 1)
                return str(self.attributes.get((logical, attribute), token))
            return str(self._ref(token))

        return re.sub(r"\$\{([^}!]+)\}", replace, text)
