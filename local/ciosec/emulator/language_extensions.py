"""``Fn::ForEach`` as the ``AWS::LanguageExtensions`` transform expands it, for the local stack and
the tests: the template CloudFormation sees once the transform has run with given parameter values.

template.yaml generates every workspace's secrets after the first from its ``Workspaces``
parameter (a CommaDelimitedList). What is implemented is what the transform documents
(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-foreach.html):

- ``"Fn::ForEach::Name": [identifier, collection, {output key: output value}]`` in the
  Conditions, Resources and Outputs sections and anywhere inside them (resource properties),
  nested loops included;
- the collection is a list or a ``Ref`` to a list parameter (its value split on commas);
- in the fragment, ``${identifier}`` becomes the item in keys and values alike, and
  ``{"Ref": identifier}`` the item; ``&{identifier}`` (the item without its non-alphanumeric
  characters) is documented for output keys only, and CloudFormation leaves it unreplaced in
  values (https://github.com/aws-cloudformation/cloudformation-coverage-roadmap/issues/2150), so
  here it is expanded in keys and refused in values: a template that works locally then also
  works in CloudFormation;
- a ``Fn::Sub`` left without any ``${...}`` becomes its plain string (so ``Condition: !Sub
  "IsAdditional&{ws}"`` is a condition name, as the transform leaves it);
- two items producing the same key is an error, as it is for the transform.

Anything else raises ``LanguageExtensionError`` naming the loop: a collection this expander cannot
resolve is never guessed.

    >>> loop = ["n", ["a-1", "b"], {"Queue&{n}": {"Name": {"Fn::Sub": "q-${n}"}}}]
    >>> expand({"Resources": {"Fn::ForEach::Queues": loop}}, {})
    {'Resources': {'Queuea1': {'Name': 'q-a-1'}, 'Queueb': {'Name': 'q-b'}}}
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["FOR_EACH_PREFIX", "LanguageExtensionError", "expand", "list_parameter"]

FOR_EACH_PREFIX = "Fn::ForEach::"
_SECTIONS = ("Conditions", "Resources", "Outputs")
_NOT_ALPHANUMERIC = re.compile(r"[^0-9A-Za-z]")


class LanguageExtensionError(ValueError):
    """A ``Fn::ForEach`` the expander cannot expand (malformed, an unresolvable collection, or two
    items producing the same key)."""


def list_parameter(value: str) -> list[str]:
    """A CommaDelimitedList parameter's value as CloudFormation splits it (items trimmed)."""
    return [item.strip() for item in value.split(",")]


def expand(template: Mapping[str, Any], parameters: Mapping[str, str]) -> dict[str, Any]:
    """A copy of ``template`` with every ``Fn::ForEach`` in Conditions, Resources and Outputs
    expanded; ``parameters`` are the stack's parameter values (defaults included) as strings."""
    declared: Mapping[str, Any] = template.get("Parameters", {})
    expanded = copy.deepcopy(dict(template))
    for section in _SECTIONS:
        if section in expanded:
            expanded[section] = _walk(expanded[section], declared, parameters, where=section)
    return expanded


def _walk(value: Any, declared: Mapping[str, Any], parameters: Mapping[str, str], *, where: str) -> Any:
    if isinstance(value, list):
        return [_walk(v, declared, parameters, where=where) for v in value]
    if not isinstance(value, dict):
        return value
    result: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(key, str) and key.startswith(FOR_EACH_PREFIX):
            for new_key, new_value in _loop(key, item, declared, parameters, where=where).items():
                if new_key in result or new_key in value:
                    raise LanguageExtensionError(f"{where}: {key} produces {new_key} twice")
                result[new_key] = new_value
        else:
            if key in result:
                raise LanguageExtensionError(f"{where}: {key} is produced twice")
            result[key] = _walk(item, declared, parameters, where=f"{where}.{key}")
    return result


def _loop(
    key: str, spec: Any, declared: Mapping[str, Any], parameters: Mapping[str, str], *, where: str
) -> dict[str, Any]:
    if not (
        isinstance(spec, list) and len(spec) == 3 and isinstance(spec[0], str) and isinstance(spec[2], dict)
    ):
        raise LanguageExtensionError(f"{where}: {key} takes [identifier, collection, {{key: value}}]")
    identifier, collection, fragment = spec
    produced: dict[str, Any] = {}
    for item in _collection(key, collection, declared, parameters, where=where):
        substituted = _substitute(fragment, identifier, item)
        for new_key, new_value in _walk(substituted, declared, parameters, where=f"{where}.{key}").items():
            if new_key in produced:
                raise LanguageExtensionError(f"{where}: {key} produces {new_key} twice")
            produced[new_key] = new_value
    return produced


def _collection(
    key: str, collection: Any, declared: Mapping[str, Any], parameters: Mapping[str, str], *, where: str
) -> list[str]:
    if isinstance(collection, list) and all(isinstance(item, str) for item in collection):
        return collection
    if isinstance(collection, dict) and set(collection) == {"Ref"} and isinstance(collection["Ref"], str):
        name = collection["Ref"]
        kind = str(declared.get(name, {}).get("Type", ""))
        if name in parameters and (kind == "CommaDelimitedList" or kind.startswith("List<")):
            return list_parameter(parameters[name])
        raise LanguageExtensionError(
            f"{where}: {key}'s collection Ref {name} is not a list parameter with a value"
        )
    raise LanguageExtensionError(f"{where}: {key}'s collection must be a list or a Ref to a list parameter")


def _substitute_key(key: str, identifier: str, item: str) -> str:
    stripped = _NOT_ALPHANUMERIC.sub("", item)
    return key.replace(f"${{{identifier}}}", item).replace(f"&{{{identifier}}}", stripped)


def _substitute(value: Any, identifier: str, item: str) -> Any:
    if isinstance(value, str):
        if f"&{{{identifier}}}" in value:
            raise LanguageExtensionError(
                f"&{{{identifier}}} in a value: CloudFormation replaces it in output keys only; use "
                f"${{{identifier}}} (with items that are valid in a logical id)"
            )
        return value.replace(f"${{{identifier}}}", item)
    if isinstance(value, list):
        return [_substitute(v, identifier, item) for v in value]
    if not isinstance(value, dict):
        return value
    if value == {"Ref": identifier}:
        return item
    result = {
        _substitute_key(k, identifier, item) if isinstance(k, str) else k: _substitute(v, identifier, item)
        for k, v in value.items()
    }
    if set(result) == {"Fn::Sub"} and isinstance(result["Fn::Sub"], str) and "${" not in result["Fn::Sub"]:
        return result["Fn::Sub"]
    return result
