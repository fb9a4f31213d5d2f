"""Where the project's own files are: the repository root, template.yaml, functions/ and events/.

``ciosec`` runs from a source checkout (``pip install -e .``), so these are found relative to
this file rather than to the working directory.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
FUNCTIONS = ROOT / "functions"
EVENTS = ROOT / "events"
