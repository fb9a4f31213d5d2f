"""Customer.io's documented examples, as data, each with its source.

Sources (Customer.io's own documentation; no example here is ours):

- ``TRACK_SPEC``: the Journeys Track API's published OpenAPI document, the same content as the
  rendered pages under docs.customer.io/integrations/api/track/ (read from a verbatim copy:
  github.com/api-evangelist/customer-io, ``openapi/_original/customer-io-track-api-openapi.json``).
  Request bodies are its ``x-codeSamples`` (``lang: json``) and schema ``example`` values,
  copied character for character; a 200 is "A successful request returns an empty object
  response." (``components/responses/200``).
- The App API pages (docs.customer.io/integrations/api/app/...), whose request and response
  examples are copied from the rendered page. The stored copy of the two customer pages cuts
  their response example short: ``*_PREFIX`` holds the example up to the cut, exactly, and the
  tests check the sandbox against every field it shows.

Where an endpoint documents a status with no example body (401 everywhere, 404 and 429 of the
App API), only the status is the contract.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final, Literal

TRACK_SPEC: Final = "https://docs.customer.io/files/journeys-track.json"
TRACK_OVERVIEW: Final = "https://docs.customer.io/api/track/"
GET_REGION: Final = "https://docs.customer.io/integrations/api/track/tag/trackregion/getRegion/"
SUPPRESS: Final = "https://docs.customer.io/integrations/api/track/tag/track-customers/suppress/"
UNSUPPRESS: Final = "https://docs.customer.io/integrations/api/track/tag/track-customers/unsuppress/"
TRACK_V2: Final = "https://docs.customer.io/integrations/api/track/tag/track_v2/"
APP_SPEC: Final = "https://docs.customer.io/files/journeys-app.json"
GET_PERSON_ATTRIBUTES: Final = (
    "https://docs.customer.io/integrations/api/app/tag/customers/getPersonAttributes/"
)
GET_PEOPLE_BY_ID: Final = "https://docs.customer.io/integrations/api/app/tag/customers/getPeopleById/"
GET_IP_ADDRESSES: Final = "https://docs.customer.io/integrations/api/app/tag/info/getCioAllowlist/"

EMPTY_OBJECT: Final[dict[str, Any]] = {}
"""components/responses/200: "A successful request returns an empty object response."."""

Auth = Literal["basic", "bearer", "none"]


@dataclass(frozen=True)
class Exchange:
    """One documented request and the documented answer to it."""

    name: str
    source: str
    method: str
    path: str
    status: int
    request: Any = None
    response: Any = None
    auth: Auth = "basic"
    query: dict[str, str] = field(default_factory=dict)


# -- Track API v1 --------------------------------------------------------------------------------------

# track_customer_id: "The values you use to identify a person may be an id, email address, or the
# cio_id ... When you reference people by cio_id, you must prefix the value with cio_." Its
# examples, one per shape (the id example is the number 12345, sent as text in a path).
V1_IDENTIFIERS: Final = ("12345", "person@example.com", "cio_03000001")

REGION_RESPONSE: Final = json.loads(
    """{
  "url": "https://track.customer.io",
  "region": "us",
  "environment_id": 3
}"""
)
"""GET_REGION, "Request Example for get/api/v1/accounts/region" (TRACK_SPEC operationId getRegion)."""

IDENTIFY_REQUEST: Final = json.loads(
    """{
  "email": "customer@example.com",
  "created_at": 1361205308,
  "first_name": "Bob",
  "plan": "basic",
  "cio_relationships": {
    "action": "add_relationships",
    "relationships": [
      {
        "identifiers": {
          "object_type_id": "1",
          "object_id": "01H5Q5SZVQDJ71SBME2SMDXS88"
        },
        "relationship_attributes": {
          "role": "admin"
        }
      },
      {
        "identifiers": {
          "object_type_id": "2",
          "object_id": "1171SBME"
        },
        "relationship_attributes": {
          "role": "viewer"
        }
      }
    ]
  },
  "cio_subscription_preferences": {
    "topics": {
      "topic_1": true,
      "topic_2": true,
      "topic_3": false
    }
  }
}"""
)
"""TRACK_SPEC operationId identify, x-codeSamples JSON."""

TRACK_EVENT_REQUEST: Final = json.loads(
    """{
  "name": "purchase",
  "data": {
    "price": 23.45,
    "product": "socks"
  }
}"""
)
"""TRACK_SPEC operationId track, x-codeSamples JSON (also the eventsRequest "Standard event" example)."""

V1_400_SHAPE: Final = {"meta": {"errors": [str]}}
"""TRACK_SPEC components/responses/400: ``{"meta": {"errors": [string, ...]}}`` (no example given)."""


def v1_exchanges(identifier: str) -> list[Exchange]:
    """Every documented v1 person call for one documented identifier, with its documented 200."""
    base = f"/api/v1/customers/{identifier}"
    spec = f"{TRACK_SPEC} operationId"
    return [
        Exchange("identify", f"{spec} identify", "PUT", base, 200, IDENTIFY_REQUEST, EMPTY_OBJECT),
        Exchange("track", f"{spec} track", "POST", f"{base}/events", 200, TRACK_EVENT_REQUEST, EMPTY_OBJECT),
        Exchange(
            "suppress", f"{SUPPRESS} ({spec} suppress)", "POST", f"{base}/suppress", 200, None, EMPTY_OBJECT
        ),
        Exchange(
            "unsuppress",
            f"{UNSUPPRESS} ({spec} unsuppress)",
            "POST",
            f"{base}/unsuppress",
            200,
            None,
            EMPTY_OBJECT,
        ),
        Exchange("delete", f"{spec} delete", "DELETE", base, 200, None, EMPTY_OBJECT),
    ]


REGION: Final = Exchange("region", GET_REGION, "GET", "/api/v1/accounts/region", 200, None, REGION_RESPONSE)

# -- Track API v2 --------------------------------------------------------------------------------------

ENTITY_REQUEST: Final = json.loads(
    """{
  "type": "person",
  "identifiers": {
    "id": "42"
  },
  "action": "identify",
  "attributes": {
    "first_name": "Jane"
  }
}"""
)
"""TRACK_SPEC operationId entity, x-codeSamples JSON."""

PERSON_OPERATION_EXAMPLES: Final[dict[str, Any]] = {
    "identify_person": json.loads(
        """{"type": "person", "identifiers": {"id": "42"}, "action": "identify",
        "attributes": {"first_name": "Jane", "last_name": "Doe", "plan": "premium"}}"""
    ),
    "person_event": json.loads(
        """{"type": "person", "identifiers": {"id": "42"}, "action": "event", "name": "purchase",
        "attributes": {"product": "Widget", "price": 29.99}}"""
    ),
    "person_suppress": json.loads(
        """{"type": "person", "identifiers": {"id": "42"}, "action": "suppress"}"""
    ),
    "person_unsuppress": json.loads(
        """{"type": "person", "identifiers": {"id": "42"}, "action": "unsuppress"}"""
    ),
    "person_delete": json.loads("""{"type": "person", "identifiers": {"id": "42"}, "action": "delete"}"""),
}
"""TRACK_SPEC components/schemas/<name>.example: each person action the project uses."""

IDENTIFIER_EXAMPLES: Final[dict[str, str]] = {
    "id": "42",  # components/schemas/not_nullable_customer_id.example
    "email": "test@example.com",  # components/schemas/not_nullable_email_address.example
    "cio_id": "a3000001",  # components/schemas/cio_id.example: no cio_ prefix in v2
    "phone": "+14155552671",  # person_common identifiers, phone example (E.164)
}
"""TRACK_SPEC components/schemas/person_common: "one of id, email, phone, or cio_id. You cannot
pass multiple identifiers."."""

BATCH_REQUEST: Final = json.loads(
    """{
  "batch": [
    {
      "type": "person",
      "identifiers": {
        "id": "42"
      },
      "action": "identify",
      "attributes": {
        "first_name": "Jane",
        "last_name": "Doe",
        "plan": "premium"
      }
    },
    {
      "type": "object",
      "identifiers": {
        "object_type_id": "1",
        "object_id": "acme"
      },
      "action": "identify",
      "attributes": {
        "name": "Acme Corp",
        "plan": "enterprise",
        "seats": 50
      }
    },
    {
      "type": "object",
      "identifiers": {
        "object_type_id": "1",
        "object_id": "acme"
      },
      "action": "add_relationships",
      "cio_relationships": [
        {
          "identifiers": {
            "id": "42"
          },
          "relationship_attributes": {
            "role": "admin"
          }
        }
      ]
    }
  ]
}"""
)
"""TRACK_SPEC operationId batch, x-codeSamples JSON (also the request schema's example)."""

BATCH_207_ERROR_FIELDS: Final = {"batch_index": int, "reason": str, "field": str, "message": str}
"""TRACK_SPEC operationId batch, 207: "At least one object in the batch was invalid; all other
requests are accepted." ``{"errors": [{batch_index, reason, field, message}]}`` (a schema, no
example)."""

V2_400_ERROR_FIELDS: Final = {"reason": str, "field": str, "message": str}
"""TRACK_SPEC operationIds entity and batch, 400: ``{"errors": components/schemas/errors}``."""

ENTITY: Final = Exchange(
    "entity", f"{TRACK_SPEC} operationId entity", "POST", "/api/v2/entity", 200, ENTITY_REQUEST, EMPTY_OBJECT
)
BATCH: Final = Exchange(
    "batch", f"{TRACK_SPEC} operationId batch", "POST", "/api/v2/batch", 200, BATCH_REQUEST, EMPTY_OBJECT
)

# -- App API ------------------------------------------------------------------------------------------

PERSON_ATTRIBUTES: Final = Exchange(
    "app_person",
    GET_PERSON_ATTRIBUTES,
    "GET",
    "/v1/customers/12345/attributes",
    200,
    auth="bearer",
    query={"id_type": "id"},
)
"""``curl 'https://api.customer.io/v1/customers/12345/attributes?id_type=id' --header
'Authorization: Bearer YOUR_SECRET_TOKEN'``; 404 "The customer_id does not exist."; 429 "Your
request is over the 10-per-second limit."."""

PERSON_ATTRIBUTES_RESPONSE_PREFIX: Final = {
    "customer": {
        "id": "1",
        "attributes": {
            "_last_emailed": "1528932553",
            "created_at": "1489014595",
            "email": "test@example.com",
            "title": "tester",
            "department": "qa",
            "id": "1",
            "cio_id": "03000001",
        },
    }
}
"""GET_PERSON_ATTRIBUTES response example, every field before the stored copy's cut (it goes on
with ``"cio_subscription_pre...``)."""

PEOPLE_BY_ID: Final = Exchange(
    "app_people",
    GET_PEOPLE_BY_ID,
    "POST",
    "/v1/customers/attributes",
    200,
    request=json.loads("""{
  "ids": [
    ""
  ]
}"""),
    auth="bearer",
    query={"id_type": "id"},
)
"""``curl 'https://api.customer.io/v1/customers/attributes?id_type=id' --request POST --header
'Content-Type: application/json' --header 'Authorization: Bearer YOUR_SECRET_TOKEN' --data
'{"ids": [""]}'``: "Return attributes and devices for up to 100 customers by ID. If an ID in the
request does not exist, the response omits it."; 400 "The request is malformed."."""

PEOPLE_BY_ID_RESPONSE_PREFIX: Final = {
    "customers": [{"customer": {"id": "1", "attributes": {"_last_emailed": "1528932553"}}}]
}
"""GET_PEOPLE_BY_ID response example, every field before the stored copy's cut."""

IP_ADDRESSES: Final = Exchange(
    "app_ip_addresses",
    GET_IP_ADDRESSES,
    "GET",
    "/v1/info/ip_addresses",
    200,
    response=json.loads(
        """{
  "ip_addresses": [
    "35.188.196.183",
    "104.198.177.219",
    "104.154.232.87",
    "130.211.229.195",
    "104.198.221.24",
    "104.197.27.15",
    "35.194.9.154",
    "104.154.144.51",
    "104.197.210.12",
    "35.225.6.73"
  ]
}"""
    ),
    auth="none",
)
"""``curl https://api.customer.io/v1/info/ip_addresses`` (the documented request sends no key)."""

APP_ERROR_FIELDS: Final = {"detail": str, "status": int}
"""APP_SPEC: the App API's error body, e.g. ``{"errors": [{"detail": "unauthorized", "status":
401}]}`` and ``{"errors": [{"detail": "resource not found", "status": 404}]}`` (the customer
lookups document their 404 without a body)."""


def conforms(value: Any, shape: Any) -> bool:
    """Whether ``value`` has ``shape``: a dict of shapes (every key present), a one-item list
    (every item of that shape), or a type."""
    if isinstance(shape, dict):
        return isinstance(value, dict) and all(k in value and conforms(value[k], s) for k, s in shape.items())
    if isinstance(shape, list):
        return isinstance(value, list) and all(conforms(item, shape[0]) for item in value)
    return isinstance(value, shape) and not (shape is int and isinstance(value, bool))


def contains(value: Any, expected: Any) -> bool:
    """Whether ``value`` holds everything ``expected`` holds (dicts may have more keys; lists
    match item by item)."""
    if isinstance(expected, dict):
        return isinstance(value, dict) and all(
            k in value and contains(value[k], v) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(value, list)
            and len(value) == len(expected)
            and all(contains(v, e) for v, e in zip(value, expected, strict=True))
        )
    return bool(value == expected)
