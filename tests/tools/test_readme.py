"""README.md cannot drift from what it documents: every parameter `sam deploy --guided` asks about
and every output of template.yaml is in its tables, with the template's default, and the
sanitizer example prints what the README shows."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
TEMPLATE = ROOT / "template.yaml"
GENERATED = "Fn::ForEach"  # keys that Fn::ForEach expands at deploy time (AWS::LanguageExtensions)
PARAMETERS_HEADING = "### Template parameters"
OUTPUTS_HEADING = "### Outputs"


class _CloudFormationLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags (!Ref, !Sub, !GetAtt...) read as plain data."""


def _any_tag(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]


_CloudFormationLoader.add_multi_constructor("!", _any_tag)


def template() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load(TEMPLATE.read_text(), _CloudFormationLoader)  # noqa: S506 - SafeLoader subclass
    return loaded


def section(heading: str) -> str:
    """The README's text from ``heading`` to the next heading of the same or a higher level."""
    text = README.read_text()
    start = text.index(f"\n{heading}\n") + 1
    level = heading.split(" ", 1)[0]
    rest = text[start + len(heading) :]
    ends = [m.start() for m in re.finditer(rf"^#{{1,{len(level)}}} ", rest, flags=re.MULTILINE)]
    return rest[: ends[0]] if ends else rest


def table_rows(heading: str) -> dict[str, list[str]]:
    """The rows of the tables under ``heading`` whose first cell is a backticked name: name ->
    the other cells."""
    rows: dict[str, list[str]] = {}
    for line in section(heading).splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and re.fullmatch(r"`[A-Za-z0-9]+`", cells[0]):
            rows[cells[0].strip("`")] = cells[1:]
    return rows


def documented_default(cell: str) -> str:
    """A default cell: its first backticked value (``""`` is the empty string)."""
    matched = re.match(r"`([^`]*)`", cell)
    assert matched, f"a default must start with a backticked value, got {cell!r}"
    value = matched[1]
    return "" if value == '""' else value


def template_default(spec: dict[str, Any]) -> str:
    default = spec.get("Default", "")
    if isinstance(default, list):
        return ",".join(str(item) for item in default)
    return str(default)


def declared(kind: str) -> dict[str, Any]:
    return {name: spec for name, spec in template().get(kind, {}).items() if not name.startswith(GENERATED)}


def test_every_parameter_is_documented_with_the_templates_default() -> None:
    parameters, rows = declared("Parameters"), table_rows(PARAMETERS_HEADING)
    missing = sorted(set(parameters) - set(rows))
    assert not missing, f"parameters missing from README's {PARAMETERS_HEADING!r} table: {missing}"
    stale = sorted(set(rows) - set(parameters))
    assert not stale, f"README documents parameters the template no longer has: {stale}"
    wrong = {
        name: (documented_default(rows[name][0]), template_default(spec))
        for name, spec in parameters.items()
        if documented_default(rows[name][0]) != template_default(spec)
    }
    assert not wrong, f"README default differs from template.yaml's (README, template): {wrong}"
    empty = [name for name, cells in rows.items() if len(cells) < 3 or not all(cells[:3])]
    assert not empty, f"every parameter needs its default, meaning and when to change it: {empty}"


def test_every_output_is_documented() -> None:
    outputs, rows = declared("Outputs"), table_rows(OUTPUTS_HEADING)
    missing = sorted(set(outputs) - set(rows))
    assert not missing, f"outputs missing from README's {OUTPUTS_HEADING!r} table: {missing}"
    stale = sorted(set(rows) - set(outputs))
    assert not stale, f"README documents outputs the template no longer has: {stale}"
    assert all(cells and cells[0] for cells in rows.values())


def test_the_tables_are_found() -> None:
    """The checks above would pass on an empty table; the template has parameters and outputs."""
    assert len(table_rows(PARAMETERS_HEADING)) >= 20
    assert len(table_rows(OUTPUTS_HEADING)) >= 20


# -- the sanitizer example ----------------------------------------------------------------------------

EXAMPLE_MARKER = "<!-- readme-example: sanitizer"
HEX64 = re.compile(r"\b[0-9a-f]{64}\b")


def sanitizer_example() -> tuple[str, str]:
    """(the Python code, the output the README shows for it)."""
    text = README.read_text()
    after = text[text.index(EXAMPLE_MARKER) :]
    code = re.search(r"```python\n(.*?)```", after, flags=re.DOTALL)
    shown = re.search(r"```text\n(.*?)```", after, flags=re.DOTALL)
    assert code and shown and code.start() < shown.start()
    return code[1], shown[1]


@pytest.mark.parametrize("pepper", [b"p" * 32, b"another pepper, another hash!!!!"])
def test_the_sanitizer_example_prints_what_the_readme_shows(pepper: bytes) -> None:
    code, shown = sanitizer_example()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md", "exec"), {"pepper_bytes": pepper})  # noqa: S102 - our own README
    assert HEX64.sub("<64 hex>", printed.getvalue()) == shown


def test_the_sanitizer_example_shows_the_default_policys_allow_list() -> None:
    """The README's list of what is kept unscanned is the default policy's allow-list."""
    from cio_security.sanitizer.policy import DEFAULT_ALLOW_KEYS

    listed = section("## The `cio_security` library").split("**Kept as they are, unscanned**", 1)[1]
    listed = listed.split("**Email addresses pass**", 1)[0]
    assert set(re.findall(r"`([a-z_]+)`", listed)) >= set(DEFAULT_ALLOW_KEYS)
