"""The sanitizer's public names stay what they are once its modules are imported: importing a
submodule sets it as an attribute of its package, so a module named after an exported name
(``sanitize.py``) would replace the function it exports."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
import types

import cio_security
import cio_security.sanitizer
from cio_security.sanitizer.attributes import sanitize, sanitize_attributes

SUBMODULES = sorted(
    info.name for info in pkgutil.iter_modules(cio_security.sanitizer.__path__, "cio_security.sanitizer.")
)


def test_no_module_is_named_after_an_exported_name() -> None:
    module_names = {name.rpartition(".")[2] for name in SUBMODULES}
    assert module_names.isdisjoint(cio_security.sanitizer.__all__)
    assert "sanitizer" not in cio_security.__all__


def test_exported_names_are_not_modules_once_every_submodule_is_imported() -> None:
    for name in SUBMODULES:
        importlib.import_module(name)
    shadowed = [
        f"{package.__name__}.{name}"
        for package in (cio_security, cio_security.sanitizer)
        for name in package.__all__
        if isinstance(getattr(package, name), types.ModuleType)
    ]
    assert shadowed == []
    assert cio_security.sanitize is sanitize
    assert cio_security.sanitizer.sanitize is sanitize
    assert cio_security.sanitizer.sanitize_attributes is sanitize_attributes


def test_from_cio_security_import_sanitize_is_the_function_after_the_package_is_imported() -> None:
    # A fresh interpreter: the package and all its modules are imported before any name resolves.
    code = """
import importlib, pkgutil, types
import cio_security.sanitizer
for info in pkgutil.iter_modules(cio_security.sanitizer.__path__, "cio_security.sanitizer."):
    importlib.import_module(info.name)
from cio_security import sanitize, sanitize_attributes
from cio_security.sanitizer import sanitize as sanitize_again
from cio_security.sanitizer.attributes import sanitize as defined
assert isinstance(sanitize, types.FunctionType) and sanitize is sanitize_again is defined, sanitize
assert sanitize_attributes({"password": "x", "plan": "pro"}, pepper="p" * 32) == {"plan": "pro"}
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
