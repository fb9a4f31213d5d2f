"""The sanitizer: key normalisation, the default policy, drop/hash/allow at any depth, detectors
under innocent keys, paths in the report, limits, and policy loading."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from cio_security.errors import ConfigurationError, PayloadLimitError
from cio_security.hashing import keyed_hash
from cio_security.sanitizer.attributes import sanitize, sanitize_attributes
from cio_security.sanitizer.keys import normalize_key
from cio_security.sanitizer.policy import (
    DEFAULT_ALLOW_KEYS,
    DEFAULT_DROP_KEYS,
    DEFAULT_HASH_KEYS,
    SanitizerPolicy,
)
from cio_security.sanitizer.report import SanitizeReport
from fixtures.logs import LogCapture, sensitive

PEPPER = "unit-test-pepper-0123456789abcdef"
CARD = "4111 1111 1111 1111"
SSN = "123-45-6789"
IBAN = "GB82WEST12345698765432"
PHONE = "+44 20 7946 0000"


def policy(**overrides: Any) -> SanitizerPolicy:
    fields: dict[str, Any] = {"drop": {"password"}, "hash": {"phone"}, "allow": {"email"}}
    return SanitizerPolicy(**(fields | overrides))


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


# --- key normalisation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spellings", "normal"),
    [
        (
            [
                "creditCardNumber",
                "credit-card-number",
                "Credit Card Number",
                "CREDIT_CARD_NUMBER",
                "credit_card_number",
            ],
            "creditcardnumber",
        ),
        (["IPAddress", "ip_address", "ipAddress", "IP-ADDRESS", "Ip Address"], "ipaddress"),
        (["SSN", "ssn", "Ssn", "_ssn_", "s.s.n"], "ssn"),
        (["address_line1", "addressLine1", "Address Line 1", "ADDRESS-LINE-1"], "addressline1"),
        (["\uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44", "pass\u200bword"], "password"),
    ],
)
def test_normalize_key_folds_case_separators_camel_case_and_acronyms(
    spellings: list[str], normal: str
) -> None:
    assert {normalize_key(s) for s in spellings} == {normal}


def test_normalize_key_keeps_distinct_names_distinct() -> None:
    assert normalize_key("phone") != normalize_key("phones")
    assert normalize_key("ip") != normalize_key("zip")


def test_normalize_key_handles_long_keys_without_caching_them() -> None:
    key = "Credit_Card_" * 100
    assert normalize_key(key) == "creditcard" * 100


# --- default policy ---------------------------------------------------------------------------


def test_default_policy_is_shared_and_normalised() -> None:
    default = SanitizerPolicy.default()
    assert default is SanitizerPolicy.default()
    assert default.drop == frozenset(normalize_key(k) for k in DEFAULT_DROP_KEYS)
    assert default.hash == frozenset(normalize_key(k) for k in DEFAULT_HASH_KEYS)
    assert default.allow == frozenset(normalize_key(k) for k in DEFAULT_ALLOW_KEYS)
    assert (default.max_depth, default.max_nodes, default.max_string_length) == (32, 10_000, 65_536)


@pytest.mark.parametrize(
    "key",
    [
        "ssn",
        "socialSecurityNumber",
        "tax_id",
        "TIN",
        "EIN",
        "cardNumber",
        "credit-card-number",
        "cc_number",
        "PAN",
        "CVV",
        "cvc",
        "cvv2",
        "securityCode",
        "password",
        "Passwd",
        "pwd",
        "password_hash",
        "hash",
        "pin",
        "bankAccountNumber",
        "account_number",
        "IBAN",
        "routingNumber",
        "aba",
        "sort-code",
        "api_key",
        "secret",
    ],
)
def test_default_policy_drops_sensitive_keys(key: str) -> None:
    result = sanitize({key: "x", "plan": "pro"}, pepper=PEPPER)
    assert result.data == {"plan": "pro"}
    assert result.report.dropped == (f"$.{key}" if key.isidentifier() else f'$["{key}"]',)
    assert result.report.reasons == ("policy",)


@pytest.mark.parametrize(
    "key",
    [
        *("phone", "phoneNumber", "mobile", "telephone", "ip", "IPAddress", "ipv4", "ipv6"),
        *("address", "street", "street_address", "addressLine1", "address_line2", "postal_address"),
    ],
)
def test_default_policy_hashes_contact_keys(key: str) -> None:
    data = sanitize_attributes({key: PHONE}, pepper=PEPPER)
    assert data == {f"{key}_hash": keyed_hash(PHONE, PEPPER)}


@pytest.mark.parametrize(
    "key",
    [
        *("email", "id", "cio_id", "customer_id", "user_id", "event_id", "delivery_id", "campaign_id"),
        *("broadcast_id", "action_id", "journey_id", "newsletter_id", "message_id", "identifiers"),
    ],
)
def test_default_policy_keeps_customer_io_identifiers_untouched(key: str) -> None:
    value = {"id": "123456789", "cio_id": "cio_03000001"} if key == "identifiers" else "123456789"
    assert sanitize_attributes({key: value}, pepper=PEPPER) == {key: value}


def test_default_policy_matches_the_published_webhook_expectations() -> None:
    attrs = {
        "customer_id": "user-1",
        "email": "person@example.com",
        "phone": PHONE,
        "note": f"paid with {CARD}",
        "password": "hunter2hunter2",
    }
    result = sanitize(attrs, pepper=PEPPER)
    assert result.data == {
        "customer_id": "user-1",
        "email": "person@example.com",
        "phone_hash": keyed_hash(PHONE, PEPPER),
    }
    assert result.report.dropped == ("$.note", "$.password")
    assert result.report.reasons == ("card_number", "policy")
    assert result.report.hashed == ("$.phone",)
    assert result.report.detected == {"card_number": 1}


# --- drop, hash, allow at any depth ------------------------------------------------------------


def test_policy_applies_at_any_depth_of_dicts_and_lists() -> None:
    attrs = {
        "profile": {"Password": "p", "contacts": [{"PHONE": "1"}, {"phone": "2", "label": "home"}]},
        "items": [[{"password": "p"}], "ok"],
    }
    result = sanitize(attrs, pepper=PEPPER, policy=policy())
    assert result.data == {
        "profile": {
            "contacts": [
                {"PHONE_hash": keyed_hash("1", PEPPER)},
                {"phone_hash": keyed_hash("2", PEPPER), "label": "home"},
            ]
        },
        "items": [[{}], "ok"],
    }
    assert result.report.dropped == ("$.profile.Password", "$.items[0][0].password")
    assert result.report.hashed == ("$.profile.contacts[0].PHONE", "$.profile.contacts[1].phone")


def test_detected_values_are_dropped_under_innocent_keys_and_from_lists() -> None:
    attrs = {
        "note": f"card {CARD} used",
        "tags": ["vip", SSN, "gold", f"iban {IBAN}"],
        "deep": {"deeper": [{"comment": "x"}, {"comment": IBAN}]},
        "count": 4111111111111111,  # numbers are scanned as their digits
        "ids": [123456789.0, 1732780800000, 42],  # an SSN; a Unix time in ms is no card
    }
    result = sanitize(attrs, pepper=PEPPER, policy=policy())
    assert result.data == {
        "tags": ["vip", "gold"],
        "deep": {"deeper": [{"comment": "x"}, {}]},
        "ids": [1732780800000, 42],
    }
    assert result.report.dropped == (
        "$.note",
        "$.count",
        "$.tags[1]",
        "$.tags[3]",
        "$.deep.deeper[1].comment",
        "$.ids[0]",
    )
    assert result.report.reasons == ("card_number", "card_number", "us_ssn", "iban", "iban", "us_ssn")
    assert result.report.detected == {"card_number": 2, "us_ssn": 2, "iban": 2}


def test_paths_quote_unusual_keys_and_never_contain_values() -> None:
    secret_key = 'we"ird\nkey'
    attrs = {"first name": {"password": "hunter2hunter2"}, secret_key: CARD, "caf\u00e9": [SSN]}
    result = sanitize(attrs, pepper=PEPPER, policy=policy())
    # Container by container: the root's own keys first, then each nested container in order.
    assert result.report.dropped == ('$["we\\"ird\\nkey"]', '$["first name"].password', '$["caf\\u00e9"][0]')
    rendered = json.dumps(result.report.as_dict())
    for value in ("hunter2hunter2", "4111", "6789"):
        assert value not in rendered


def test_keys_holding_sensitive_data_are_dropped_and_redacted_in_paths() -> None:
    attrs = {"4111111111111111": "visa", "a": {"123-45-6789": 1}, 7: "seven", "ok": 1}
    result = sanitize(attrs, pepper=PEPPER, policy=policy())
    assert result.data == {"a": {}, "ok": 1}
    assert result.report.dropped == ("$[?]", "$[?]", "$.a[?]")
    assert result.report.reasons == ("card_number", "non_string_key", "us_ssn")
    assert "4111" not in "".join(result.report.dropped)


def test_allowed_scalars_are_kept_as_they_are_and_allowed_containers_are_walked() -> None:
    attrs = {
        "email": "a@b.example.invalid",
        "identifiers": {"id": SSN, "ssn": SSN, "extra": [CARD, {"password": "x"}, "ok"]},
        "profile": {"email": {"password": "hunter2hunter2", "address": "x"}},
    }
    result = sanitize(attrs, pepper=PEPPER)
    assert result.data == {
        "email": "a@b.example.invalid",
        "identifiers": {"id": SSN, "extra": [{}, "ok"]},
        "profile": {"email": {"address_hash": keyed_hash("x", PEPPER)}},
    }
    assert result.report.dropped == (
        "$.identifiers.ssn",
        "$.identifiers.extra[0]",
        "$.identifiers.extra[1].password",
        "$.profile.email.password",
    )
    assert result.report.reasons == ("policy", "card_number", "policy", "policy")
    assert result.data["identifiers"] is not attrs["identifiers"]
    assert result.data["identifiers"]["extra"] is not attrs["identifiers"]["extra"]
    kept = {"email": "a@b.example.invalid", "identifiers": {"id": SSN, "tags": ["a"]}}
    assert sanitize(kept, pepper=PEPPER) == sanitize(kept, pepper=PEPPER)
    assert sanitize(kept, pepper=PEPPER).report == SanitizeReport()


def test_hash_values_of_every_scalar_type() -> None:
    attrs = {"phone": 447946000000, "ip": None, "mobile": True, "tel": 1.5, "address": "1 Main St"}
    result = sanitize(attrs, pepper=PEPPER)
    assert result.data == {
        "phone_hash": keyed_hash("447946000000", PEPPER),
        "ip_hash": None,
        "mobile_hash": keyed_hash("True", PEPPER),
        "tel_hash": keyed_hash("1.5", PEPPER),
        "address_hash": keyed_hash("1 Main St", PEPPER),
    }
    assert (
        result.data["phone_hash"]
        == sanitize_attributes({"phone": "447946000000"}, pepper=PEPPER)["phone_hash"]
    )
    assert result.report.hashed == ("$.phone", "$.ip", "$.mobile", "$.tel", "$.address")


def test_containers_under_hash_keys_are_dropped_as_unhashable() -> None:
    result = sanitize({"address": {"street": "1 Main St"}, "phone": ["1", "2"]}, pepper=PEPPER)
    assert result.data == {}
    assert result.report.dropped == ("$.address", "$.phone")
    assert result.report.reasons == ("unhashable", "unhashable")
    assert result.report.hashed == ()


def test_hash_is_keyed_and_stable() -> None:
    one = sanitize_attributes({"phone": PHONE}, pepper=PEPPER)["phone_hash"]
    again = sanitize_attributes({"phone": PHONE}, pepper=PEPPER)["phone_hash"]
    other = sanitize_attributes({"phone": PHONE}, pepper=PEPPER + "x")["phone_hash"]
    as_bytes = sanitize_attributes({"phone": PHONE}, pepper=PEPPER.encode())["phone_hash"]
    assert one == again == as_bytes == keyed_hash(PHONE, PEPPER)
    assert other != one
    assert len(one) == 64 and int(one, 16) >= 0


@pytest.mark.parametrize("order", ["hash_key_first", "existing_first"])
def test_computed_hash_wins_over_an_existing_hash_key(order: str) -> None:
    items = [("phone", PHONE), ("phone_hash", "forged")]
    attrs = dict(items if order == "hash_key_first" else reversed(items))
    result = sanitize(attrs, pepper=PEPPER)
    assert result.data == {"phone_hash": keyed_hash(PHONE, PEPPER)}
    assert result.report.dropped == ("$.phone_hash",)
    assert result.report.reasons == ("collision",)
    assert result.report.hashed == ("$.phone",)


def test_an_existing_hash_key_without_its_source_is_kept() -> None:
    digest = keyed_hash(PHONE, PEPPER)
    assert sanitize_attributes({"phone_hash": digest}, pepper=PEPPER) == {"phone_hash": digest}


def test_other_value_types_are_dropped_and_tuples_are_lists() -> None:
    attrs = {"raw": b"4111111111111111", "when": object(), "pair": ("a", SSN, 1)}
    result = sanitize(attrs, pepper=PEPPER, policy=policy())
    assert result.data == {"pair": ["a", 1]}
    assert result.report.dropped == ("$.raw", "$.when", "$.pair[1]")
    assert result.report.reasons == ("unsupported_type", "unsupported_type", "us_ssn")


def test_strings_longer_than_the_limit_are_dropped_unless_allowed_or_hashed() -> None:
    small = policy(max_string_length=10)
    attrs = {"note": "x" * 11, "short": "x" * 10, "email": "y" * 50, "phone": "9" * 50, "k" * 11: 1}
    result = sanitize(attrs, pepper=PEPPER, policy=small)
    assert result.data == {"short": "x" * 10, "email": "y" * 50, "phone_hash": keyed_hash("9" * 50, PEPPER)}
    assert result.report.dropped == ("$.note", "$[?]")
    assert result.report.reasons == ("too_long", "too_long")


def test_input_is_not_mutated_and_output_shares_no_container() -> None:
    attrs = {
        "phone": PHONE,
        "password": "x",
        "list": [CARD, {"phone": "1", "keep": [1, 2]}],
        "identifiers": {"id": "u1", "tags": ["a"]},
    }
    before = copy.deepcopy(attrs)
    data = sanitize_attributes(attrs, pepper=PEPPER)
    assert attrs == before
    data["list"][0]["keep"].append(3)
    data["identifiers"]["tags"].append("b")
    assert attrs == before


def test_result_is_deterministic() -> None:
    attrs = {"b": [SSN, "x"], "a": {"phone": "1", "c": CARD}, "password": 1}
    first, second = sanitize(attrs, pepper=PEPPER), sanitize(attrs, pepper=PEPPER)
    assert first == second
    assert list(first.data) == ["b", "a"]  # the input's order is kept


def test_report_as_dict_is_json_ready() -> None:
    report = sanitize({"note": CARD, "phone": "1", "password": "p"}, pepper=PEPPER).report
    assert json.loads(json.dumps(report.as_dict())) == {
        "dropped": ["$.note", "$.password"],
        "hashed": ["$.phone"],
        "detected": {"card_number": 1},
    }


def test_sanitizing_logs_nothing(captured_logs: LogCapture) -> None:
    sensitive(PHONE, "hunter2hunter2")
    sanitize({"phone": PHONE, "password": "hunter2hunter2", "note": CARD}, pepper=PEPPER)
    assert captured_logs.records == []


# --- bad calls and limits ---------------------------------------------------------------------


def test_empty_pepper_and_non_mapping_input_are_refused() -> None:
    with pytest.raises(ValueError, match="pepper"):
        sanitize_attributes({"a": 1}, pepper="")
    with pytest.raises(ValueError, match="pepper"):
        sanitize_attributes({"a": 1}, pepper=b"")
    with pytest.raises(TypeError, match="mapping"):
        sanitize_attributes(["a"], pepper=PEPPER)  # type: ignore[arg-type]


def test_ten_thousand_levels_raise_payload_limit_not_recursion_error() -> None:
    deep: Any = "leaf"
    for _ in range(10_000):
        deep = {"a": [deep]}
    with pytest.raises(PayloadLimitError, match="deeper than 32") as raised:
        sanitize_attributes(deep, pepper=PEPPER)
    assert "leaf" not in str(raised.value)


def test_depth_limit_is_exact() -> None:
    limited = policy(max_depth=3)
    assert sanitize_attributes(nested(3), pepper=PEPPER, policy=limited) == nested(3)
    with pytest.raises(PayloadLimitError):
        sanitize_attributes(nested(4), pepper=PEPPER, policy=limited)
    with pytest.raises(PayloadLimitError):
        sanitize_attributes({"l": [[[1]]]}, pepper=PEPPER, policy=limited)


def test_limits_apply_under_allowed_keys_but_not_under_dropped_ones() -> None:
    limited = policy(max_depth=3)
    with pytest.raises(PayloadLimitError):
        sanitize_attributes({"email": nested(3)}, pepper=PEPPER, policy=limited)
    assert sanitize_attributes({"password": nested(100)}, pepper=PEPPER, policy=limited) == {}


def test_self_referencing_input_stops_at_the_depth_limit() -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with pytest.raises(PayloadLimitError):
        sanitize_attributes(loop, pepper=PEPPER)


@pytest.mark.parametrize(
    "attrs",
    [
        {f"k{i}": i for i in range(10_001)},
        {"list": list(range(10_000))},
        {"rows": [{"a": 1, "b": 2} for _ in range(4_000)]},
    ],
)
def test_node_limit_raises_payload_limit(attrs: dict[str, Any]) -> None:
    with pytest.raises(PayloadLimitError, match="more than 10000 values"):
        sanitize_attributes(attrs, pepper=PEPPER)


def test_node_limit_is_exact() -> None:
    limited = policy(max_nodes=4)  # the root and three values
    assert sanitize_attributes({"a": [1, 2]}, pepper=PEPPER, policy=limited) == {"a": [1, 2]}
    with pytest.raises(PayloadLimitError):
        sanitize_attributes({"a": [1, 2, 3]}, pepper=PEPPER, policy=limited)


# --- policies ---------------------------------------------------------------------------------


def test_custom_policy_replaces_the_default_sets() -> None:
    custom = SanitizerPolicy.from_json('{"drop": ["Plan Name"], "hash": ["customerId"], "allow": []}')
    assert custom.drop == frozenset({"planname"})
    result = sanitize(
        {"plan_name": "pro", "customer_id": "u1", "password": "kept"}, pepper=PEPPER, policy=custom
    )
    assert result.data == {"customer_id_hash": keyed_hash("u1", PEPPER), "password": "kept"}


def test_policy_from_json_accepts_bytes_and_limits() -> None:
    text = b'{"drop": ["a"], "hash": ["b"], "allow": ["c"], "max_depth": 4, "max_nodes": 9, '
    text += b'"max_string_length": 5}'
    loaded = SanitizerPolicy.from_json(text)
    assert (loaded.max_depth, loaded.max_nodes, loaded.max_string_length) == (4, 9, 5)
    assert loaded == SanitizerPolicy(
        drop={"A"}, hash={"B"}, allow={"C"}, max_depth=4, max_nodes=9, max_string_length=5
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"drop": ["creditCard"], "hash": [], "allow": ["credit_card"]}',
            "creditcard in both drop and allow",
        ),
        ('{"drop": [], "hash": ["Phone"], "allow": ["phone"]}', "phone in both hash and allow"),
        ('{"drop": ["ip"], "hash": ["IP"], "allow": []}', "ip in both drop and hash"),
        ('{"drop": ["password_hash"], "hash": ["password"], "allow": []}', "_hash name is a drop key"),
        ('{"drop": [], "hash": []}', "allow: Field required"),
        ('{"drop": [], "hash": [], "allow": [], "extra": 1}', "extra: Extra inputs are not permitted"),
        ('{"drop": ["--"], "hash": [], "allow": []}', "letter or a digit"),
        ('{"drop": [], "hash": [], "allow": [], "max_depth": 0}', "max_depth"),
        ("{not json", "Invalid JSON"),
    ],
)
def test_invalid_policies_raise_configuration_error(text: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match="invalid sanitizer policy") as raised:
        SanitizerPolicy.from_json(text)
    assert message in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_policy_errors_never_quote_input_values() -> None:
    with pytest.raises(ConfigurationError) as raised:
        SanitizerPolicy.from_json(
            '{"drop": "hunter2hunter2", "hash": [], "allow": [], "max_nodes": "s3cr3t-value"}'
        )
    text = str(raised.value)
    assert "drop" in text and "max_nodes" in text
    assert "hunter2hunter2" not in text and "s3cr3t-value" not in text


def test_direct_construction_validates_too() -> None:
    with pytest.raises(ValidationError, match="in both drop and hash"):
        SanitizerPolicy(drop={"a"}, hash={"A"}, allow=set())
    with pytest.raises(ValidationError):
        SanitizerPolicy(drop=set(), hash=set(), allow=set(), unknown=1)  # type: ignore[call-arg]


def test_policy_is_frozen() -> None:
    with pytest.raises(ValidationError):
        SanitizerPolicy.default().max_depth = 1  # type: ignore[misc]


def test_policy_from_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text('{"drop": ["x"], "hash": [], "allow": []}', encoding="utf-8")
    assert SanitizerPolicy.from_file(path).drop == frozenset({"x"})
    assert SanitizerPolicy.from_file(str(path)) == SanitizerPolicy.from_file(path)
    with pytest.raises(ConfigurationError, match="cannot be read"):
        SanitizerPolicy.from_file(tmp_path / "missing.json")
    path.write_text('{"drop": ["x"], "hash": ["x"], "allow": []}', encoding="utf-8")
    with pytest.raises(ConfigurationError, match="in both drop and hash"):
        SanitizerPolicy.from_file(path)
