"""RegionInfo: the body of ``GET /api/v1/accounts/region`` as Customer.io documents it (Journeys
Track API; shared/CUSTOMERIO.md): ``{"url": "https://track.customer.io", "region": "us",
"environment_id": 3}``. Where the documentation is silent, each answer is pinned here: an answer
is read as the documented one when it means the same thing, and refused otherwise (the rotation
then promotes nothing)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from cio_security.customerio.responses import RegionInfo

DOCUMENTED = {"url": "https://track.customer.io", "region": "us", "environment_id": 3}


def parse(body: dict[str, Any]) -> RegionInfo:
    return RegionInfo.model_validate_json(json.dumps(body))


def test_the_documented_body() -> None:
    info = parse(DOCUMENTED)
    assert (info.url, info.region, info.environment_id) == ("https://track.customer.io", "us", 3)
    eu = parse({"url": "https://track-eu.customer.io", "region": "eu", "environment_id": 7})
    assert (eu.region, eu.environment_id) == ("eu", 7)


@pytest.mark.parametrize(
    ("body", "region", "environment_id"),
    [
        ({**DOCUMENTED, "environment_id": "3"}, "us", 3),  # the id as a string of digits
        ({**DOCUMENTED, "environment_id": " 3 "}, "us", 3),
        ({**DOCUMENTED, "region": "US"}, "us", 3),  # the region in another case
        ({**DOCUMENTED, "region": " eu "}, "eu", 3),
        ({**DOCUMENTED, "data_center": "eu", "name": "x"}, "us", 3),  # unknown fields are ignored
        ({"region": "us", "environment_id": 3}, "us", 3),  # url is not needed
    ],
    ids=["id-string", "id-string-spaces", "region-upper", "region-spaces", "unknown-fields", "no-url"],
)
def test_answers_that_mean_the_documented_one(body: dict[str, Any], region: str, environment_id: int) -> None:
    info = parse(body)
    assert (info.region, info.environment_id) == (region, environment_id)
    assert type(info.environment_id) is int


@pytest.mark.parametrize(
    "body",
    [
        {"url": "https://track.customer.io", "data_center": "us", "environment_id": 3},  # the old guess
        {"url": "https://track.customer.io", "environment_id": 3},
        {"url": "https://track.customer.io", "region": "us"},
        {**DOCUMENTED, "region": "ap"},
        {**DOCUMENTED, "region": 1},
        {**DOCUMENTED, "environment_id": "ws-3"},
        {**DOCUMENTED, "environment_id": ""},
        {**DOCUMENTED, "environment_id": "3.0"},
        {**DOCUMENTED, "environment_id": "٣"},  # a digit, but not an ASCII one
        {**DOCUMENTED, "environment_id": 3.0},
        {**DOCUMENTED, "environment_id": True},
        {**DOCUMENTED, "environment_id": None},
        {**DOCUMENTED, "environment_id": [3]},
    ],
    ids=[
        "data-center",
        "no-region",
        "no-environment-id",
        "unknown-region",
        "region-not-a-string",
        "id-not-a-number",
        "id-empty",
        "id-decimal-string",
        "id-non-ascii-digit",
        "id-float",
        "id-bool",
        "id-null",
        "id-list",
    ],
)
def test_answers_that_cannot_be_compared_are_refused(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        parse(body)
