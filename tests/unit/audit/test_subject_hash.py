"""The audit record's subject hash is what the README and DESIGN say it is: their three-line example,
run as an operator would, gives the ``subject_hash`` the deletion function stores for the person."""

from __future__ import annotations

import contextlib
import io
import re
import textwrap
from collections.abc import Sequence
from pathlib import Path

import pytest

from cio_security.customerio.v2 import BatchResult, PersonOperation
from cio_security.deletion.processor import DeletionProcessor
from cio_security.deletion.request import DeletionRequest
from cio_security.secrets.models import Pepper
from fixtures.audit import MemoryAuditStore

ROOT = Path(__file__).resolve().parents[3]
DOCUMENTS = [ROOT / "README.md", ROOT / "docs" / "DESIGN.md"]
PLACEHOLDER = '"<the pepper>"'
# The pepper secret's value as the stack holds it ({"pepper": ...}, 64 random characters).
PEPPER = Pepper.model_validate(
    {"pepper": "Zk3q9T7wXb2LmN8pR4sV6yA1cE5gH0jK-_~.Qd7fU3iO9lP2tW6zB4nM8xC1vS5rY0"}
)


class AcceptingTrack:
    """``TrackClient.batch`` that accepts every operation."""

    def batch(self, operations: Sequence[PersonOperation]) -> BatchResult:
        return BatchResult(200, "req-subject-hash")


def stored_subject_hash(body: dict[str, object]) -> str:
    """The ``subject_hash`` of the audit record the deletion processor writes for ``body``, keyed
    with the pepper as the deletion function passes it (``Pepper.key_bytes``)."""
    store = MemoryAuditStore()
    processor = DeletionProcessor(AcceptingTrack(), store, PEPPER.key_bytes())
    request = DeletionRequest.model_validate({"request_id": "dsar-subject-hash-1", **body})
    assert processor.process(request).kind == "completed"
    record = store.get("dsar-subject-hash-1")
    assert record is not None
    return record.subject_hash


def example(document: Path) -> str:
    """The Python example that computes the subject hash in ``document`` (dedented)."""
    blocks = re.findall(r"```python\n(.*?)```", document.read_text(encoding="utf-8"), re.DOTALL)
    (block,) = [textwrap.dedent(b) for b in blocks if "hmac.new(pepper" in b]
    return block


def run(code: str, namespace: dict[str, object] | None = None) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "example", "exec"), dict(namespace or {}))  # noqa: S102 - our own docs
    return out.getvalue().strip()


def _lines(code: str) -> list[str]:
    """The example's lines of code (``ruff format`` puts a blank line after the import)."""
    return [line for line in code.splitlines() if line.strip()]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_the_documented_example_gives_the_stored_subject_hash(document: Path) -> None:
    code = example(document)
    assert len(_lines(code)) == 3
    assert PLACEHOLDER in code
    pepper = PEPPER.pepper.get_secret_value()
    printed = run(code.replace(PLACEHOLDER, repr(pepper)))
    assert re.fullmatch(r"[0-9a-f]{64}", printed)  # 64 lowercase hex characters
    stored = stored_subject_hash({"identifier": "alice@example.com", "identifier_type": "email"})
    assert printed == stored


@pytest.mark.parametrize(
    ("body", "identifier_type"),
    [
        ({"identifier": "alice@example.com"}, "email"),  # inferred from the shape
        ({"identifier": "Alice@Example.com", "identifier_type": "id"}, "id"),  # as stated, case kept
        ({"identifier": "user-123"}, "id"),
        ({"identifier": "+14155552671"}, "phone"),
        ({"identifier": "cio_03000001"}, "cio_id"),
        ({"identifier": "  padded  ", "identifier_type": "id"}, "id"),  # never trimmed
        ({"identifier": "zoë@exämple.org"}, "email"),  # UTF-8
    ],
)
def test_the_documented_input_is_the_type_a_colon_and_the_identifier_as_sent(
    body: dict[str, object], identifier_type: str
) -> None:
    # The example's first and last lines with the operator's values in place of its second.
    first, _, last = _lines(example(DOCUMENTS[0]))
    namespace = {
        "pepper": PEPPER.pepper.get_secret_value(),
        "identifier_type": identifier_type,
        "identifier": body["identifier"],
    }
    assert run(f"{first}\n{last}", namespace) == stored_subject_hash(body)
