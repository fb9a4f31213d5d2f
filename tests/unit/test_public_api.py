"""The public surface of cio_security: every exported name resolves, and lazily."""

from __future__ import annotations

import subprocess
import sys

import pytest

import cio_security


@pytest.mark.parametrize("name", cio_security.__all__)
def test_every_exported_name_resolves(name: str) -> None:
    assert getattr(cio_security, name) is not None


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError):
        _ = cio_security.no_such_name  # type: ignore[attr-defined]


def test_importing_the_package_loads_no_submodule_until_used() -> None:
    code = (
        "import sys, cio_security; "
        "print(sorted(m for m in sys.modules if m.startswith('cio_security.') or m in ('httpx', 'pydantic')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
