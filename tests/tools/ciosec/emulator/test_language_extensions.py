"""ciosec.emulator.language_extensions: Fn::ForEach expanded as the AWS::LanguageExtensions
transform documents it, and anything it cannot expand refused, never guessed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ciosec.emulator.language_extensions import LanguageExtensionError, expand
from ciosec.emulator.template import Resolver

DECLARED = {"Names": {"Type": "CommaDelimitedList", "Default": "a"}, "One": {"Type": "String"}}


def _expand(section: str, body: dict[str, Any], **parameters: str) -> dict[str, Any]:
    template = {"Parameters": DECLARED, section: body}
    expanded: dict[str, Any] = expand(template, {"Names": "a", **parameters})[section]
    return expanded


def test_a_loop_over_a_list_parameter_substitutes_keys_values_and_refs() -> None:
    loop = [
        "n",
        {"Ref": "Names"},
        {
            "Queue${n}": {
                "Type": "AWS::SQS::Queue",
                "Condition": "Is${n}",
                "Properties": {
                    "QueueName": {"Fn::Sub": "${AWS::StackName}-${n}"},
                    "Tag": {"Ref": "n"},
                    "Other": {"Fn::Sub": "${Topic${n}}"},
                    "Kept": {"Ref": "One"},
                },
            }
        },
    ]
    resources = _expand("Resources", {"Fn::ForEach::Queues": loop, "Static": {"Type": "X"}}, Names="eu1,us")
    assert list(resources) == ["Queueeu1", "Queueus", "Static"]
    assert resources["Queueeu1"] == {
        "Type": "AWS::SQS::Queue",
        "Condition": "Iseu1",
        "Properties": {
            "QueueName": {"Fn::Sub": "${AWS::StackName}-eu1"},
            "Tag": "eu1",
            "Other": {"Fn::Sub": "${Topiceu1}"},
            "Kept": {"Ref": "One"},
        },
    }


def test_the_ampersand_form_strips_keys_and_is_refused_in_values() -> None:
    # Documented for output keys; CloudFormation leaves it unreplaced in values
    # (cloudformation-coverage-roadmap#2150), so a value holding it must fail here too.
    assert _expand("Resources", {"Fn::ForEach::Q": ["n", ["eu-1"], {"Q&{n}": {"Name": "${n}"}}]}) == {
        "Qeu1": {"Name": "eu-1"}
    }
    with pytest.raises(LanguageExtensionError, match="output keys only"):
        _expand("Resources", {"Fn::ForEach::Q": ["n", ["eu-1"], {"Q&{n}": {"Condition": "Is&{n}"}}]})


def test_a_sub_left_without_variables_is_its_string() -> None:
    loop = ["n", ["x-1"], {"Is&{n}": {"Fn::Not": [{"Fn::Equals": [{"Fn::Sub": "${n}"}, "y"]}]}}]
    assert _expand("Conditions", {"Fn::ForEach::C": loop}) == {
        "Isx1": {"Fn::Not": [{"Fn::Equals": ["x-1", "y"]}]}
    }


def test_nested_loops_and_loops_inside_properties() -> None:
    inner = ["p", ["Arn", "Name"], {"Out${n}${p}": {"Value": {"Fn::GetAtt": ["Q${n}", {"Ref": "p"}]}}}]
    outputs = _expand("Outputs", {"Fn::ForEach::Outer": ["n", ["A", "B"], {"Fn::ForEach::Inner": inner}]})
    assert list(outputs) == ["OutAArn", "OutAName", "OutBArn", "OutBName"]
    assert outputs["OutBName"] == {"Value": {"Fn::GetAtt": ["QB", "Name"]}}
    tags = ["t", ["k1", "k2"], {"${t}": {"Fn::Sub": "v-${t}"}}]
    resources = _expand("Resources", {"R": {"Type": "X", "Properties": {"Fn::ForEach::Tags": tags}}})
    assert resources["R"]["Properties"] == {"k1": "v-k1", "k2": "v-k2"}


def test_sections_other_than_conditions_resources_and_outputs_are_left_alone() -> None:
    template = {"Parameters": DECLARED, "Metadata": {"Fn::ForEach::M": ["n", ["a"], {"K${n}": 1}]}}
    assert expand(template, {"Names": "a"})["Metadata"] == template["Metadata"]


@pytest.mark.parametrize(
    ("loop", "message"),
    [
        (["n", ["a", "a"], {"Q${n}": {}}], "produces Qa twice"),
        (["n", ["a-b", "ab"], {"Q&{n}": {}}], "produces Qab twice"),
        (["n", {"Ref": "One"}, {"Q${n}": {}}], "is not a list parameter with a value"),
        (["n", {"Fn::Split": [",", "a,b"]}, {"Q${n}": {}}], "must be a list or a Ref"),
        (["n", ["a"]], "takes \\[identifier, collection"),
    ],
)
def test_what_cannot_be_expanded_is_refused(loop: list[Any], message: str) -> None:
    with pytest.raises(LanguageExtensionError, match=message):
        _expand("Resources", {"Fn::ForEach::Q": loop}, One="x")


def test_a_loop_key_colliding_with_a_written_resource_is_refused() -> None:
    with pytest.raises(LanguageExtensionError, match="twice"):
        _expand("Resources", {"Fn::ForEach::Q": ["n", ["a"], {"Q${n}": {}}], "Qa": {}})


TEMPLATE = """\
Parameters:
  Names:
    Type: CommaDelimitedList
    Default: one
Conditions:
  Fn::ForEach::Extra:
    - n
    - !Ref Names
    - IsExtra${n}: !Not [!Equals [!Ref n, !Select [0, !Ref Names]]]
Resources:
  Fn::ForEach::Queues:
    - n
    - !Ref Names
    - Queue${n}:
        Type: AWS::SQS::Queue
        Condition: IsExtra${n}
        Properties:
          QueueName: !Sub "${AWS::StackName}-${n}"
  Always:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Join ["+", !Ref Names]
"""


def test_the_resolver_reads_the_template_expanded_for_its_parameters(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    default = Resolver("s", path=path)
    assert set(default.template["Resources"]) == {"Queueone", "Always"}
    assert set(default.resources()) == {"Always"}  # the first name's condition is false
    three = Resolver("s", path=path, parameters={"Names": "one, two2,three"})
    assert set(three.resources()) == {"Queuetwo2", "Queuethree", "Always"}
    assert three.properties("Queuetwo2") == {"QueueName": "s-two2"}
    assert three.properties("Always") == {"QueueName": "one+two2+three"}  # items trimmed, as CFN does
    assert three.is_created("Queueone") is False
