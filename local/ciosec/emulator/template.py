"""Read template.yaml: CloudFormation's short-form tags, and the intrinsic functions the local stack
and the tests need to create resources exactly as the template describes them.

The template is read as CloudFormation sees it after the ``AWS::LanguageExtensions`` transform:
``Fn::ForEach`` expanded for the parameter values (``language_extensions``), so the workspaces'
generated secrets are resources like any other, each with its condition (``Resolver.resources``
lists the ones a stack with these parameters has).

Implemented: ``Ref`` (a CommaDelimitedList parameter is a list), ``Fn::Sub``, ``Fn::GetAtt``,
``Fn::Join``, ``Fn::Select``, and ``Fn::If``, ``Fn::Equals``, ``Fn::Not`` and ``Condition`` over the
template's conditions. Resolution is loud:
a ``Ref`` to a name that is not a parameter, a pseudo parameter or a resource created so far, a
``Fn::GetAtt`` of an attribute the emulator has not recorded, a ``${...}`` in ``Fn::Sub`` that is
none of those, and any other ``Fn::`` raise ``UnresolvableIntrinsicError`` naming the construct
and where it is, instead of standing in a made-up name. The template also declares what the local
stack does not emulate (the KMS key, the functions, the layer, the alarms), so resolve only the
properties you use::

    >>> resolver = Resolver("cio-security-local")
    >>> resolver.properties("AuditTable", "KeySchema", "BillingMode")          # doctest: +SKIP
    {'KeySchema': [{'AttributeName': 'request_id', 'KeyType': 'HASH'}], 'BillingMode': ...}
    >>> resolver.properties("DeletionQueue")                                   # doctest: +SKIP
    UnresolvableIntrinsicError: resource DeletionQueue, property KmsMasterKeyId: cannot resolve
    Fn::GetAtt ProjectKey.Arn: ProjectKey (AWS::KMS::Key) is not created by the local stack
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from ciosec.emulator.language_extensions import expand, list_parameter
from ciosec.project import TEMPLATE

__all__ = [
    "TEMPLATE",
    "Resolver",
    "UnresolvableIntrinsicError",
    "load_raw_template",
    "load_template",
    "parameter_values",
    "resource",
]

_SUB_TOKEN = re.compile(r"\$\{([^}]*)\}")


class UnresolvableIntrinsicError(ValueError):
    """An intrinsic function the resolver cannot resolve.

    ``construct`` is the intrinsic as written (``Fn::GetAtt ProjectKey.Arn``), ``where`` the place
    in the template (``resource DeletionQueue, property KmsMasterKeyId``) and ``reason`` why.
    """

    def __init__(self, construct: str, where: str, reason: str) -> None:
        super().__init__(f"{where}: cannot resolve {construct}: {reason}")
        self.construct = construct
        self.where = where
        self.reason = reason


class _Loader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no type hints (no stub installed)
    """SafeLoader that turns ``!Ref x`` into ``{"Ref": "x"}`` and ``!Sub s`` into ``{"Fn::Sub": s}``."""


def _construct(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = suffix if suffix in {"Ref", "Condition"} else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:  # pragma: no cover - PyYAML has no other node kinds
        raise yaml.constructor.ConstructorError(None, None, f"unexpected node for !{suffix}", node.start_mark)
    return {name: value}


_Loader.add_multi_constructor("!", _construct)


@cache
def load_raw_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as written, ``Fn::ForEach`` loops and all (cached; do not mutate)."""
    # _Loader is a SafeLoader subclass: it only adds constructors for CloudFormation's tags.
    data: dict[str, Any] = yaml.load(path.read_text(), Loader=_Loader)  # noqa: S506  # nosec B506
    return data


def parameter_values(
    template: Mapping[str, Any], parameters: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The parameters' values as strings: their defaults, overridden by ``parameters``."""
    declared: dict[str, Any] = template.get("Parameters", {})
    values = {name: str(spec["Default"]) for name, spec in declared.items() if "Default" in spec}
    values.update(parameters or {})
    return values


def load_template(path: Path = TEMPLATE, parameters: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The template as plain data after the ``AWS::LanguageExtensions`` transform: ``Fn::ForEach``
    expanded for ``parameters`` (the defaults for the others). Cached; do not mutate."""
    return _expanded(path, tuple(sorted((parameters or {}).items())))


@cache
def _expanded(path: Path, parameters: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    raw = load_raw_template(path)
    return expand(raw, parameter_values(raw, dict(parameters)))


def resource(logical_id: str, path: Path = TEMPLATE) -> dict[str, Any]:
    """One resource's definition."""
    resources: dict[str, Any] = load_template(path)["Resources"]
    if logical_id not in resources:
        raise KeyError(f"template.yaml has no resource {logical_id}")
    found: dict[str, Any] = resources[logical_id]
    return found


def _describe(key: str, arg: Any) -> str:
    """An intrinsic as a reader would recognise it in the template: ``Fn::GetAtt Key.Arn``."""
    if key == "Fn::GetAtt" and isinstance(arg, list) and len(arg) == 2:
        return f"Fn::GetAtt {arg[0]}.{arg[1]}"
    if isinstance(arg, str):
        return f"{key} {arg}"
    return key


class Resolver:
    """Resolves intrinsic functions against a stack name, parameter values and the physical
    names/attributes of resources created so far (``refs`` and ``attributes``, which the
    provisioner fills in as it creates each resource)."""

    def __init__(
        self,
        stack_name: str,
        *,
        region: str = "eu-west-1",
        account: str = "123456789012",
        parameters: Mapping[str, str] | None = None,
        path: Path = TEMPLATE,
    ) -> None:
        self.template = load_template(path, parameters)
        self.pseudo: dict[str, str | None] = {
            "AWS::StackName": stack_name,
            "AWS::Region": region,
            "AWS::AccountId": account,
            "AWS::Partition": "aws",
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{account}:stack/{stack_name}/local",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": None,
        }
        declared: dict[str, Any] = self.template.get("Parameters", {})
        self.parameters: dict[str, str] = parameter_values(self.template, parameters)
        self._declared = set(declared)
        kinds = {name: str(spec.get("Type", "")) for name, spec in declared.items()}
        self._lists = {
            name for name, kind in kinds.items() if kind == "CommaDelimitedList" or kind.startswith("List<")
        }
        self.refs: dict[str, str] = {}
        self.attributes: dict[tuple[str, str], str] = {}
        self._intrinsics: dict[str, Callable[[Any, str], Any]] = {
            "Ref": self._ref,
            "Fn::Sub": self._sub,
            "Fn::GetAtt": self._get_att,
            "Fn::If": self._if,
            "Fn::Equals": self._equals,
            "Fn::Not": self._not,
            "Fn::Join": self._join,
            "Fn::Select": self._select,
        }

    @property
    def stack_name(self) -> str:
        return str(self.pseudo["AWS::StackName"])

    def condition(self, name: str, where: str = "Conditions") -> bool:
        """The value of one of the template's conditions."""
        conditions: dict[str, Any] = self.template.get("Conditions", {})
        if name not in conditions:
            raise UnresolvableIntrinsicError(
                f"Condition {name}", where, f"template.yaml has no condition {name}"
            )
        return bool(self.resolve(conditions[name], where=f"condition {name}"))

    def is_created(self, logical_id: str) -> bool:
        """Whether a stack with these parameters has the resource (its Condition, if any, holds)."""
        spec: dict[str, Any] = self.template["Resources"][logical_id]
        condition = spec.get("Condition")
        if condition is None:
            return True
        if not isinstance(condition, str):
            raise UnresolvableIntrinsicError(
                "Condition", f"resource {logical_id}", "a resource's Condition must name a condition"
            )
        return self.condition(condition, where=f"resource {logical_id}")

    def resources(self) -> dict[str, dict[str, Any]]:
        """The resources a stack with these parameters has: the template's, conditions applied."""
        resources: dict[str, dict[str, Any]] = self.template["Resources"]
        return {logical_id: spec for logical_id, spec in resources.items() if self.is_created(logical_id)}

    def outputs(self) -> dict[str, dict[str, Any]]:
        """The outputs a stack with these parameters has (unresolved), conditions applied."""
        outputs: dict[str, dict[str, Any]] = self.template.get("Outputs", {})
        return {
            name: spec
            for name, spec in outputs.items()
            if "Condition" not in spec or self.condition(spec["Condition"], where=f"output {name}")
        }

    def properties(self, logical_id: str, *names: str) -> dict[str, Any]:
        """A resource's properties with their intrinsics resolved: the ``names`` given (those the
        resource has), or all of them. Raises KeyError for an unknown resource and
        UnresolvableIntrinsicError naming the resource and property."""
        resources: dict[str, Any] = self.template["Resources"]
        if logical_id not in resources:
            raise KeyError(f"template.yaml has no resource {logical_id}")
        declared: dict[str, Any] = resources[logical_id].get("Properties", {})
        wanted = names or tuple(declared)
        return {
            name: self.resolve(declared[name], where=f"resource {logical_id}, property {name}")
            for name in wanted
            if name in declared
        }

    def resolve(self, value: Any, *, where: str = "template.yaml") -> Any:
        """Resolve every intrinsic in ``value`` (recursively). ``where`` names the place in the
        template for the error an unresolvable intrinsic raises."""
        if isinstance(value, list):
            return [self.resolve(v, where=where) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key in self._intrinsics:
                return self._intrinsics[key](arg, where)
            if key == "Condition" and isinstance(arg, str):
                return self.condition(arg, where)
            if key.startswith("Fn::"):
                raise UnresolvableIntrinsicError(
                    _describe(key, arg), where, f"{key} is not implemented by the local resolver"
                )
        return {k: self.resolve(v, where=where) for k, v in value.items()}

    # -- the intrinsics ------------------------------------------------------------------------------

    def _ref(self, name: Any, where: str) -> Any:
        if not isinstance(name, str):
            raise UnresolvableIntrinsicError("Ref", where, "Ref takes a name")
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            if name in self._lists:
                return list_parameter(self.parameters[name])
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        raise UnresolvableIntrinsicError(f"Ref {name}", where, self._unknown(name))

    def _get_att(self, arg: Any, where: str) -> str:
        if isinstance(arg, str):
            arg = arg.split(".", 1)
        if not isinstance(arg, list) or len(arg) != 2 or not all(isinstance(a, str) for a in arg):
            raise UnresolvableIntrinsicError("Fn::GetAtt", where, "Fn::GetAtt takes [resource, attribute]")
        logical_id, attribute = arg
        if (logical_id, attribute) in self.attributes:
            return self.attributes[(logical_id, attribute)]
        reason = self._unknown(logical_id)
        if logical_id in self.refs:
            reason = f"the local stack does not model {logical_id}'s {attribute}"
        raise UnresolvableIntrinsicError(f"Fn::GetAtt {logical_id}.{attribute}", where, reason)

    def _sub(self, arg: Any, where: str) -> str:
        if isinstance(arg, str):
            text, extra = arg, {}
        elif isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str):
            text, extra = arg[0], self.resolve(arg[1], where=where)
        else:
            raise UnresolvableIntrinsicError(
                "Fn::Sub", where, "Fn::Sub takes a string or [string, variables]"
            )

        def replace(match: re.Match[str]) -> str:
            token = match.group(1)
            if token.startswith("!"):  # ${!Literal} is written out as ${Literal}
                return "${" + token[1:] + "}"
            if token in extra:
                return str(extra[token])
            try:
                if "." in token and token.split(".", 1)[0] not in self.pseudo:
                    return self._get_att(token.split(".", 1), where)
                return str(self._ref(token, where))
            except UnresolvableIntrinsicError as exc:
                raise UnresolvableIntrinsicError(f"Fn::Sub ${{{token}}}", where, exc.reason) from None

        return _SUB_TOKEN.sub(replace, text)

    def _if(self, arg: Any, where: str) -> Any:
        if not isinstance(arg, list) or len(arg) != 3 or not isinstance(arg[0], str):
            raise UnresolvableIntrinsicError("Fn::If", where, "Fn::If takes [condition, if true, if false]")
        name, yes, no = arg
        return self.resolve(yes if self.condition(name, where) else no, where=where)

    def _equals(self, arg: Any, where: str) -> bool:
        if not isinstance(arg, list) or len(arg) != 2:
            raise UnresolvableIntrinsicError("Fn::Equals", where, "Fn::Equals takes two values")
        left, right = (self.resolve(a, where=where) for a in arg)
        return bool(left == right)

    def _not(self, arg: Any, where: str) -> bool:
        if not isinstance(arg, list) or len(arg) != 1:
            raise UnresolvableIntrinsicError("Fn::Not", where, "Fn::Not takes one condition")
        return not self.resolve(arg[0], where=where)

    def _join(self, arg: Any, where: str) -> str:
        if not isinstance(arg, list) or len(arg) != 2 or not isinstance(arg[0], str):
            raise UnresolvableIntrinsicError("Fn::Join", where, "Fn::Join takes [separator, values]")
        separator: str = arg[0]
        values = self.resolve(arg[1], where=where)
        if not isinstance(values, list):
            raise UnresolvableIntrinsicError("Fn::Join", where, "Fn::Join's values must be a list")
        return separator.join(str(v) for v in values)

    def _select(self, arg: Any, where: str) -> Any:
        if not isinstance(arg, list) or len(arg) != 2:
            raise UnresolvableIntrinsicError("Fn::Select", where, "Fn::Select takes [index, values]")
        index, items = (self.resolve(a, where=where) for a in arg)
        if not isinstance(items, list) or not 0 <= int(index) < len(items):
            raise UnresolvableIntrinsicError("Fn::Select", where, f"no item {index} to select")
        return items[int(index)]

    def _unknown(self, name: str) -> str:
        """Why ``name`` has no value: a resource the local stack does not create, a parameter
        without a value, or nothing the template declares."""
        resources: dict[str, Any] = self.template.get("Resources", {})
        if name in resources:
            kind = resources[name].get("Type", "resource")
            return f"{name} ({kind}) is not created by the local stack"
        if name in self._declared:
            return f"parameter {name} has no Default and no value was given"
        return f"template.yaml has no parameter, pseudo parameter or resource named {name}"
