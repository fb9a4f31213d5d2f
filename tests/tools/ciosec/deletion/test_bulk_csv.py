"""``ciosec deletion bulk FILE``'s CSV (issue 17): a misspelt column is reported with the column it
is probably meant to be, an extra column is an error, missing columns are named, and a row's
problem names its row and field, never the value. The optional ``workspaces`` column (issue 15)."""

from __future__ import annotations

import pytest

from ciosec.operations.deletion import BULK_COLUMNS, RequestInputError, read_bulk_csv

EMAIL = "bulk-subject@example.com"


def problems(*lines: str, **options: str) -> tuple[str, ...]:
    with pytest.raises(RequestInputError) as caught:
        read_bulk_csv([line + "\n" for line in lines], **options)  # type: ignore[arg-type]
    for problem in caught.value.problems:
        assert EMAIL not in problem
    return caught.value.problems


def test_a_misspelt_column_is_named_with_what_it_probably_means() -> None:
    assert problems("request_id,identifer", f"r-1,{EMAIL}") == (
        "unknown column 'identifer' (did you mean 'identifier'?)",
    )
    assert problems("Request-ID,identifier,Regulaton", f"r-1,{EMAIL},gdpr") == (
        "unknown column 'Request-ID' (did you mean 'request_id'?)",
        "unknown column 'Regulaton' (did you mean 'regulation'?)",
    )


def test_a_lone_misspelt_header_is_not_taken_for_an_identifier() -> None:
    assert problems("identifer", EMAIL, id_prefix="b") == (
        "unknown column 'identifer' (did you mean 'identifier'?)",
    )


def test_an_extra_column_is_an_error_not_ignored() -> None:
    assert problems("request_id,identifier,notes", f"r-1,{EMAIL},called twice") == (
        f"unknown column 'notes' (allowed: {', '.join(BULK_COLUMNS)})",
    )


def test_a_header_cell_that_looks_like_data_is_never_repeated() -> None:
    found = problems(f"request_id,identifier,{EMAIL}", f"r-1,u-1,{EMAIL}")
    assert found == (f"column 3 of the header is not a column name (allowed: {', '.join(BULK_COLUMNS)})",)


def test_missing_required_columns_are_named() -> None:
    assert problems("request_id,action", "r-1,erase") == (
        "missing column 'identifier' (the person to erase)",
    )
    assert problems("identifier,action", f"{EMAIL},erase") == (
        "missing column 'request_id' (or give --id-prefix to number the rows)",
    )
    assert read_bulk_csv(["identifier\n", f"{EMAIL}\n"], id_prefix="p")[0].request_id == "p-000002"


def test_a_column_given_twice_and_an_unnamed_column() -> None:
    assert problems("request_id,identifier,identifier,", f"r-1,{EMAIL},{EMAIL},") == (
        f"column 4 of the header has no name (allowed: {', '.join(BULK_COLUMNS)})",
        "column 'identifier' appears more than once in the header",
    )


def test_row_problems_name_the_row_and_the_field_never_the_value() -> None:
    found = problems(
        "request_id,identifier,identifier_type,regulation,requested_at",
        f"r-1,{EMAIL},email,gdpr,2026-11-01T10:00:00Z",
        f"r-2,{EMAIL},phone,gdpr,",
        f"r-3,{EMAIL},,hipaa,2026-11-01T10:00:00",
        f"r-4,{EMAIL},,gdpr,,surplus",
        f"r-1,{EMAIL},,,",
    )
    assert found == (
        "row 3: identifier_type 'phone' contradicts the identifier: a phone number must be E.164 (+ and "
        "up to 15 digits, e.g. +14155552671)",
        "row 4: regulation must be 'gdpr' or 'ccpa'",
        "row 4: requested_at needs a timezone (e.g. 2026-11-28T10:00:00Z)",
        "row 5: more cells than the header has columns",
        "request_id r-1 appears more than once (rows 2, 6)",
    )


def test_a_row_without_request_id_needs_a_prefix() -> None:
    assert problems("request_id,identifier", f",{EMAIL}") == (
        "row 2: request_id is empty (fill it in, or give --id-prefix)",
    )


def test_headerless_rows_hold_one_identifier_each() -> None:
    assert problems("user-1", f"user-2,{EMAIL}", id_prefix="b") == (
        "row 2 holds more than one cell: without a header row each row holds exactly one identifier "
        f"(quote one that contains a comma), or add a header row of {', '.join(BULK_COLUMNS)}",
    )
    requests = read_bulk_csv(["user-1\n", "\n", '"comma,id"\n'], id_prefix="b")
    assert [(r.request_id, r.identifier) for r in requests] == [
        ("b-000001", "user-1"),
        ("b-000003", "comma,id"),
    ]


def test_the_workspaces_column_is_optional_and_semicolon_separated() -> None:
    requests = read_bulk_csv(
        [
            "request_id,identifier,workspaces\n",
            "w-1,user-1,prod-us;prod-eu\n",
            "w-2,user-2,\n",
            "w-3,user-3, prod-eu ; \n",
        ],
        workspaces=["brand-2"],
    )
    assert [r.workspaces for r in requests] == [("prod-us", "prod-eu"), ("brand-2",), ("prod-eu",)]
    assert read_bulk_csv(["request_id,identifier\n", "w-4,user-4\n"])[0].workspaces is None


def test_bad_workspaces_are_named_by_row_and_rule() -> None:
    assert problems(
        "request_id,identifier,workspaces", "w-1,user-1,prod-eu;prod-eu", "w-2,user-2,Prod EU"
    ) == (
        "row 2: workspaces must not name a workspace twice",
        "row 3: workspaces[0] must be a workspace name: lowercase letters, digits and inner hyphens, "
        "1-32 characters",
    )
