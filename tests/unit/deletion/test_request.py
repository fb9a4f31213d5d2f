"""The deletion request model (DESIGN section 4)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from cio_security.deletion.request import DeletionRequest, add_one_month


def request(**overrides: object) -> DeletionRequest:
    body = {"request_id": "dsar-2026-0001", "identifier": "user-123", **overrides}
    return DeletionRequest.model_validate(body)


class TestDeletionRequest:
    def test_design_example(self) -> None:
        r = request(
            identifier_type="id", action="erase", regulation="gdpr", requested_at="2026-11-28T10:00:00Z"
        )
        assert r.steps == ("suppress", "delete")
        assert r.deadline == datetime(2026, 12, 28, 10, tzinfo=UTC)

    def test_defaults(self) -> None:
        r = request()
        assert (r.action, r.regulation, r.identifier_type) == ("erase", "gdpr", "id")
        assert r.requested_at.tzinfo is not None

    @pytest.mark.parametrize(
        ("identifier", "kind"),
        [("user-123", "id"), ("a+b@example.com", "email"), ("cio_03000001", "cio_id"), ("42", "id")],
    )
    def test_identifier_type_is_inferred(self, identifier: str, kind: str) -> None:
        assert request(identifier=identifier).identifier_type == kind

    @pytest.mark.parametrize(
        ("identifier", "kind"),
        [("12345", "cio_id"), ("cio_12", "id"), ("a@b.c", "id"), ("user-1", "email"), ("cio_1", "email")],
    )
    def test_contradicting_identifier_type_is_refused(self, identifier: str, kind: str) -> None:
        # Erasing by the wrong kind of identifier would erase someone else, irreversibly.
        with pytest.raises(ValidationError) as err:
            request(identifier=identifier, identifier_type=kind)
        assert "contradicts" in str(err.value)

    def test_matching_identifier_type_is_accepted(self) -> None:
        assert request(identifier="a@b.c", identifier_type="email").identifier_type == "email"

    def test_delete_is_one_step(self) -> None:
        assert request(action="delete").steps == ("delete",)

    def test_ccpa_deadline_is_45_days(self) -> None:
        r = request(regulation="ccpa", requested_at="2026-01-01T00:00:00+00:00")
        assert r.deadline == datetime(2026, 2, 15, tzinfo=UTC)

    @pytest.mark.parametrize(
        ("start", "end"),
        [((2026, 1, 31), (2026, 2, 28)), ((2028, 1, 31), (2028, 2, 29)), ((2026, 12, 15), (2027, 1, 15))],
    )
    def test_gdpr_month_clamps_to_month_end(
        self, start: tuple[int, int, int], end: tuple[int, int, int]
    ) -> None:
        assert add_one_month(datetime(*start, tzinfo=UTC)) == datetime(*end, tzinfo=UTC)

    def test_timezone_is_normalised_to_utc(self) -> None:
        assert request(requested_at="2026-11-28T12:00:00+02:00").requested_at == datetime(
            2026, 11, 28, 10, tzinfo=UTC
        )

    @pytest.mark.parametrize(
        "overrides",
        [
            {"request_id": ""},
            {"request_id": "x" * 129},
            {"request_id": "a\nb"},
            {"identifier": ""},
            {"identifier": "   "},
            {"identifier": "a\x00b"},
            {"identifier": "x" * 513},
            {"action": "purge"},
            {"regulation": "lgpd"},
            {"identifier_type": "phone"},
            {"requested_at": "2026-11-28T10:00:00"},
            {"requested_at": "not a date"},
            {"requested_at": "9999-12-31T23:59:59Z"},
            {"requested_at": "0001-01-01T00:00:00+01:00"},
            {"requested_at": "1999-12-31T23:59:59Z"},
            {"requested_at": "2999-01-01T00:00:00Z"},
            {"unexpected": "field"},
        ],
    )
    def test_invalid_requests_are_refused(self, overrides: dict[str, object]) -> None:
        with pytest.raises(ValidationError):
            request(**overrides)

    def test_request_id_of_128_printable_chars(self) -> None:
        assert request(request_id="é" * 128).request_id == "é" * 128
