"""Prune and verify the output of ``sam build``: ``python -m ciosec.checks.sam_build .aws-sam/build``.

Pruning. ``aws-xray-sdk`` depends on ``botocore``, so pip installs botocore and botocore's own
dependencies (``urllib3``, ``python-dateutil``, ``six``) into the built layer even though
``layers/shared/requirements.txt`` does not list them. The Lambda python3.13 runtime already
provides boto3 with its matching botocore, s3transfer, urllib3, dateutil and six, and a layer sits
*ahead* of the runtime on ``sys.path``: left in place, the layer's botocore (and urllib3) would be
imported by the runtime's boto3, pairing boto3 with a botocore release it was never tested with
(botocore carries the service models and the serializers boto3 relies on). Removing them makes
every function use the runtime's consistent set, and keeps the layer small.

Verification. After pruning, the build must hold the three functions (each with ``app.py``) and a
layer containing ``cio_security``, with pydantic_core's native extension built for Linux arm64
(an ELF file whose ``e_machine`` is EM_AARCH64), no x86-64 shared object anywhere and no botocore
left. A summary (layer size in MiB) is printed; any failure exits non-zero with the reasons.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

FUNCTIONS = ("WebhookFunction", "GdprDeletionFunction", "RotationFunction")
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
    """What was pruned and what is wrong with the build (empty ``problems``: all good)."""

    pruned: list[str] = field(default_factory=list)
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


def prune_layer(build: Path) -> list[str]:
    """Remove the runtime-provided packages from the built layer; returns what was removed."""
    site = _site_packages(build)
    removed: list[str] = []
    if not site.is_dir():
        return removed
    for path in sorted(set(_runtime_provided_paths(site))):
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
        removed.append(path.name)
    return removed


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
    if (site / "botocore").exists() or any(site.glob("botocore-*.dist-info")):
        problems.append("botocore is still in the layer: the runtime's boto3 must use the runtime's botocore")
    return problems


def _size(root: Path) -> int:
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file())


def check_build(build: Path) -> BuildReport:
    """Prune the layer, then verify the whole build."""
    report = BuildReport()
    if not build.is_dir():
        report.problems.append(f"{build} does not exist: run `sam build` first")
        return report
    report.pruned = prune_layer(build)
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
    if report.pruned:
        print(f"pruned from the layer (provided by the Lambda runtime): {', '.join(report.pruned)}")
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
