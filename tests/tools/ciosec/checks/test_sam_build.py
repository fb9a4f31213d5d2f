"""The sam build check reads the build and refuses a layer that would shadow the runtime's boto3."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from ciosec.checks.sam_build import EM_AARCH64, EM_X86_64, FUNCTIONS, LAYER, check_build


def elf(machine: int) -> bytes:
    """The first 20 bytes of a little-endian ELF header with ``e_machine`` set."""
    return b"\x7fELF" + bytes([2, 1]) + bytes(10) + struct.pack("<HH", 3, machine)


@pytest.fixture
def build(tmp_path: Path) -> Path:
    for function in FUNCTIONS:
        (tmp_path / function).mkdir()
        (tmp_path / function / "app.py").write_text("")
    site = tmp_path / LAYER / "python"
    (site / "cio_security").mkdir(parents=True)
    (site / "cio_security" / "__init__.py").write_text("")
    (site / "pydantic_core").mkdir()
    (site / "pydantic_core" / "_pydantic_core.cpython-313-aarch64-linux-gnu.so").write_bytes(elf(EM_AARCH64))
    return tmp_path


def test_a_clean_arm64_build_passes(build: Path) -> None:
    report = check_build(build)
    assert report.problems == []
    assert report.layer_bytes > 0


@pytest.mark.parametrize("name", ["botocore", "urllib3", "s3transfer", "dateutil"])
def test_a_runtime_provided_package_in_the_layer_fails_and_stays(build: Path, name: str) -> None:
    package = build / LAYER / "python" / name
    package.mkdir()
    report = check_build(build)
    assert any(problem.startswith(f"{name} is in the layer") for problem in report.problems)
    assert package.is_dir()  # the check changes nothing in the build


def test_an_x86_64_extension_fails(build: Path) -> None:
    (build / LAYER / "python" / "pydantic_core" / "_pydantic_core.so").write_bytes(elf(EM_X86_64))
    assert any("x86-64" in problem or "aarch64" in problem for problem in check_build(build).problems)


def test_a_missing_function_or_library_fails(build: Path) -> None:
    (build / FUNCTIONS[0] / "app.py").unlink()
    (build / LAYER / "python" / "cio_security" / "__init__.py").unlink()
    problems = check_build(build).problems
    assert f"{FUNCTIONS[0]}/app.py is missing from the build" in problems
    assert "the layer has no cio_security package" in problems
