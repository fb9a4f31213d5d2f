"""Verify the output of ``sam build``: ``python -m ciosec.checks.sam_build .aws-sam/build``.

The layer is built by ``layers/shared/Makefile`` (``BuildMethod: makefile``), so ``sam build``
alone and ``make build`` deploy the same thing; this check only reads the build, it changes
nothing in it.

What it verifies: the three functions (each with ``app.py``) and a layer containing
``cio_security``, with pydantic_core's native extension built for Linux arm64 (an ELF file whose
``e_machine`` is EM_AARCH64), no x86-64 shared object anywhere, and none of the packages the Lambda
python3.13 runtime provides with its boto3 (botocore, s3transfer, urllib3, dateutil, six). A layer
sits *ahead* of the runtime on ``sys.path``: a botocore there would be imported by the runtime's
boto3, pairing boto3 with a botocore release it was never tested with. A summary (layer size in
MiB) is printed; any failure exits non-zero with the reasons.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

FUNCTIONS = ("WebhookFunction", "GdprDeletionFunction", "RotationFunction", "ErasureVerificationFunction")
LAYER = "SharedLayer"

# Import names (packages or single modules) provided by the Lambda runtime alongside boto3, and the
# distribution names of their ``*.dist-info`` folders.
RUNTIME_PROVIDED: dict[str, str] = {
    "boto3": "boto3",
    "botocore": "botocore",
    "s3transfer": "s3transfer",
    "urllib3": "urllib3",
    "dateutil": "python_dateutil",
    "six": "six",
}

EM_X86_64 = 62
EM_AARCH64 = 183
_ELF_MAGIC = b"\x7fELF"


@dataclass
class BuildReport:
    """What is wrong with the build (empty ``problems``: all good) and the layer's size."""

    problems: list[str] = field(default_factory=list)
    layer_bytes: int = 0


def elf_machine(path: Path) -> int | None:
    """The ELF header's ``e_machine`` of ``path``, or None when it is not an ELF file."""
    with path.open("rb") as handle:
        header = handle.read(20)
    if len(header) < 20 or not header.startswith(_ELF_MAGIC):
        return None
    # EI_DATA (byte 5): 1 little-endian, 2 big-endian.
    return int.from_bytes(header[18:20], "big" if header[5] == 2 else "little")


def _site_packages(build: Path) -> Path:
    return build / LAYER / "python"


def _runtime_provided_paths(site: Path) -> Iterator[Path]:
    for module, distribution in RUNTIME_PROVIDED.items():
        for candidate in (site / module, site / f"{module}.py"):
            if candidate.exists():
                yield candidate
        yield from site.glob(f"{distribution}-*.dist-info")


def _shared_objects(root: Path) -> Iterator[Path]:
    for path in root.rglob("*"):
        if path.is_file() and (path.suffix == ".so" or ".so." in path.name):
            yield path


def verify(build: Path) -> list[str]:
    """Every problem found in the build (an empty list when it is deployable)."""
    problems: list[str] = []
    for function in FUNCTIONS:
        if not (build / function / "app.py").is_file():
            problems.append(f"{function}/app.py is missing from the build")
    site = _site_packages(build)
    if not site.is_dir():
        return [*problems, f"the layer is missing: {site} does not exist"]
    if not (site / "cio_security" / "__init__.py").is_file():
        problems.append("the layer has no cio_security package")
    extensions = sorted((site / "pydantic_core").glob("_pydantic_core*.so"))
    if not extensions:
        problems.append("pydantic_core's native extension is missing from the layer")
    for extension in extensions:
        machine = elf_machine(extension)
        if machine != EM_AARCH64:
            problems.append(
                f"{extension.relative_to(build)} is not an aarch64 ELF (e_machine={machine}): "
                "the layer must be built for arm64"
            )
    for shared in _shared_objects(site):
        machine = elf_machine(shared)
        if machine == EM_X86_64 or "x86_64" in shared.name:
            problems.append(f"{shared.relative_to(build)} is an x86-64 binary")
    for path in sorted(set(_runtime_provided_paths(site))):
        problems.append(
            f"{path.name} is in the layer: the Lambda runtime provides it with boto3, and the layer's "
            "copy would shadow the runtime's"
        )
    return problems


def _size(root: Path) -> int:
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file())


def check_build(build: Path) -> BuildReport:
    """Verify the whole build (nothing in it is changed)."""
    report = BuildReport()
    if not build.is_dir():
        report.problems.append(f"{build} does not exist: run `sam build` first")
        return report
    report.problems = verify(build)
    if (build / LAYER).is_dir():
        report.layer_bytes = _size(build / LAYER)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the process exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m ciosec.checks.sam_build BUILD_DIR (e.g. .aws-sam/build)", file=sys.stderr)
        return 2
    build = Path(args[0])
    report = check_build(build)
    if report.problems:
        print(f"build check FAILED for {build}:", file=sys.stderr)
        for problem in report.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(
        f"build check passed: {len(FUNCTIONS)} functions, layer {report.layer_bytes / 2**20:.1f} MiB "
        "(arm64, no botocore)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
