"""The verification queue (tickets sent 10 per call, each delayed until due, at most 900 s), the
deletion function's ``QueueVerifier``, whether there is a verifier at all (``erasure_verifier``:
no key, the template's placeholder) and the verification settings."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from cio_security.audit.record import AuditRecord
from cio_security.audit.transitions import awaiting_verification, new_record, submission_accepted
from cio_security.deletion.request import DeletionRequest
from cio_security.deletion.verification import VerificationPolicy, VerificationTicket
from cio_security.deletion.verification_protocol import ErasureVerifier
from cio_security.deletion.verification_queue import (
    QueueVerifier,
    VerificationQueue,
    VerificationScheduleError,
)
from cio_security.deletion.verification_settings import (
    VerificationSettings,
    erasure_verifier,
    is_placeholder,
    policy_from_env,
)
from cio_security.errors import ConfigurationError, SecretError
from cio_security.secrets.store import SecretStore
from fixtures.aws import REGION
from fixtures.logs import LogCapture, sensitive

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
POLICY = VerificationPolicy()
IDENTIFIER = "queue-subject-91c4@example.org"
APP_KEY = "unit-app-api-key-3e7a91c0"


@pytest.fixture(autouse=True)
def _sensitive() -> None:
    sensitive(IDENTIFIER, APP_KEY)


class RecordingSqs:
    """``send_message_batch`` recorded; ``fail_ids`` are refused per entry, ``error`` raised."""

    def __init__(self, fail_ids: set[str] | None = None, error: Exception | None = None) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self.fail_ids = fail_ids or set()
        self.error = error

    def send_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        self.calls.append(Entries)
        if self.error is not None:
            raise self.error
        return {
            "Successful": [
                {"Id": e["Id"], "MessageId": "m"} for e in Entries if e["Id"] not in self.fail_ids
            ],
            "Failed": [
                {"Id": e["Id"], "Code": "InternalError", "SenderFault": False}
                for e in Entries
                if e["Id"] in self.fail_ids
            ],
        }


def ticket(index: int = 0, due_in: float = 900) -> VerificationTicket:
    first = POLICY.first_ticket(f"dsar-q{index}", "email", IDENTIFIER, NOW)
    return first.model_copy(update={"due_at": NOW + timedelta(seconds=due_in)})


def awaiting(request: DeletionRequest) -> AuditRecord:
    record = new_record(request, NOW, subject_hash="0" * 64, lease_seconds=60, lease_token="t")
    return awaiting_verification(submission_accepted(record, "suppress", 200, None, NOW), NOW)


# -- the queue ---------------------------------------------------------------------------------------


def test_tickets_go_ten_per_call_each_delayed_until_due_at_most_900_s() -> None:
    sqs = RecordingSqs()
    tickets = [ticket(i, due_in=i * 100.5) for i in range(23)]
    assert VerificationQueue("q", sqs).send(tickets, NOW) == [True] * 23  # type: ignore[arg-type]
    assert [len(call) for call in sqs.calls] == [10, 10, 3]
    delays = [entry["DelaySeconds"] for call in sqs.calls for entry in call]
    assert delays == [min(900, -(-i * 1005 // 10)) for i in range(23)]
    assert VerificationTicket.from_body(sqs.calls[2][0]["MessageBody"]) == tickets[20]


def test_refused_entries_and_calls_are_reported_never_raised(captured_logs: LogCapture) -> None:
    partial = RecordingSqs(fail_ids={"1"})
    assert VerificationQueue("q", partial).send([ticket(0), ticket(1)], NOW) == [True, False]  # type: ignore[arg-type]
    error = ClientError({"Error": {"Code": "KMS.ThrottlingException"}}, "SendMessageBatch")
    down = RecordingSqs(error=error)
    assert VerificationQueue("q", down).send([ticket(0)], NOW) == [False]  # type: ignore[arg-type]
    assert "dsar-q1" in captured_logs.text and IDENTIFIER not in captured_logs.text


def test_tickets_reach_a_real_queue_with_their_timer(aws: None) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="verification")["QueueUrl"]
    assert VerificationQueue(url, sqs).send([ticket(0, due_in=0)], NOW) == [True]
    (message,) = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)["Messages"]
    assert VerificationTicket.from_body(message["Body"]).request_id == "dsar-q0"


# -- the deletion function's verifier --------------------------------------------------------------


def test_the_verifier_queues_each_records_first_check() -> None:
    sqs = RecordingSqs()
    verifier = QueueVerifier(VerificationQueue("q", sqs), POLICY)  # type: ignore[arg-type]
    assert isinstance(verifier, ErasureVerifier)
    requests = {
        f"dsar-s{i}": DeletionRequest.model_validate({"request_id": f"dsar-s{i}", "identifier": IDENTIFIER})
        for i in range(3)
    }
    verifier.schedule([awaiting(r) for r in requests.values()], NOW + timedelta(seconds=2), requests=requests)
    (call,) = sqs.calls
    sent = [VerificationTicket.from_body(entry["MessageBody"]) for entry in call]
    assert [(t.request_id, t.identifier_type, t.identifier) for t in sent] == [
        (rid, "email", IDENTIFIER) for rid in requests
    ]
    # Due and windowed from the submission, delayed from now.
    assert {(t.submitted_at, t.due_at, t.window_ends_at) for t in sent} == {
        (NOW, NOW + timedelta(minutes=15), NOW + timedelta(hours=24))
    }
    assert {entry["DelaySeconds"] for entry in call} == {898}


def test_a_ticket_not_queued_fails_the_schedule_without_naming_anyone() -> None:
    verifier = QueueVerifier(VerificationQueue("q", RecordingSqs(fail_ids={"0"})), POLICY)  # type: ignore[arg-type]
    request = DeletionRequest.model_validate({"request_id": "dsar-f", "identifier": IDENTIFIER})
    with pytest.raises(VerificationScheduleError) as raised:
        verifier.schedule([awaiting(request)], NOW, requests={"dsar-f": request})
    assert IDENTIFIER not in str(raised.value) and "1 of 1" in str(raised.value)


# -- is there a verifier? ----------------------------------------------------------------------------


@pytest.fixture
def secrets(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("VERIFICATION_QUEUE_URL", "https://sqs.eu-west-1.amazonaws.com/1/verification")
    monkeypatch.setenv("APP_API_KEY_SECRET_ID", "stack/customerio/app-api-key")
    return boto3.client("secretsmanager", region_name=REGION)


def test_without_a_key_secret_there_is_no_verifier(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APP_API_KEY_SECRET_ID", raising=False)
    monkeypatch.setenv("VERIFICATION_QUEUE_URL", "q")
    assert erasure_verifier(SecretStore(client=object())) is None  # type: ignore[arg-type]  # never read


def test_while_the_secret_holds_the_placeholder_there_is_no_verifier(secrets: Any) -> None:
    secrets.create_secret(
        Name="stack/customerio/app-api-key", SecretString='{"app_api_key":"","region":"us"}'
    )
    assert erasure_verifier(SecretStore(client=secrets, max_age=0)) is None


def test_a_key_makes_a_verifier_with_the_environments_timing(
    secrets: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets.create_secret(
        Name="stack/customerio/app-api-key", SecretString=json.dumps({"app_api_key": APP_KEY, "region": "eu"})
    )
    monkeypatch.setenv("VERIFICATION_FIRST_CHECK_SECONDS", "120")
    verifier = erasure_verifier(SecretStore(client=secrets, max_age=0))
    assert isinstance(verifier, QueueVerifier)
    assert verifier.policy.first_check_delay == timedelta(seconds=120)


def test_a_secret_that_is_not_a_key_is_logged_and_means_no_verifier(
    secrets: Any, captured_logs: LogCapture
) -> None:
    secrets.create_secret(Name="stack/customerio/app-api-key", SecretString=json.dumps({"key": APP_KEY}))
    assert erasure_verifier(SecretStore(client=secrets, max_age=0)) is None
    assert "not_verified" in captured_logs.text


def test_a_secret_that_cannot_be_read_is_an_error(secrets: Any) -> None:
    with pytest.raises(SecretError):
        erasure_verifier(SecretStore(client=secrets, max_age=0))


@pytest.mark.parametrize(
    ("raw", "placeholder"),
    [
        ('{"app_api_key":"","region":"us"}', True),
        ('{"app_api_key": "  "}', True),
        ("{}", False),
        ('{"key": ""}', False),
        (json.dumps({"app_api_key": APP_KEY}), False),
        ("not json", False),
    ],
)
def test_the_placeholder_is_a_key_left_empty(raw: str, placeholder: bool) -> None:
    assert is_placeholder(raw) is placeholder


# -- settings ----------------------------------------------------------------------------------------


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "VERIFICATION_QUEUE_URL": "q",
        "VERIFICATION_DEAD_LETTER_QUEUE_URL": "d",
        "AUDIT_TABLE": "t",
        "APP_API_KEY_SECRET_ID": "s",
        "CUSTOMERIO_APP_URL": "http://127.0.0.1:1/app",
        "CUSTOMERIO_APP_RATE_LIMIT_RPS": "8",
        "VERIFICATION_MAX_CONCURRENCY": "4",
        "VERIFICATION_WINDOW_SECONDS": "3600",
        "VERIFICATION_MAX_INTERVAL_SECONDS": "600",
        "VERIFICATION_RETRY_SECONDS": "30",
    }.items():
        monkeypatch.setenv(name, value)
    settings = VerificationSettings.from_env()
    assert (settings.app_url, settings.rate_per_invocation) == ("http://127.0.0.1:1/app", 2.0)
    assert settings.policy.window == timedelta(hours=1)
    assert settings.policy.max_interval == timedelta(minutes=10)
    assert settings.policy.retry_delay == timedelta(seconds=30)
    assert settings.lookup_budget_seconds == settings.retry.worst_case() + 10


def test_settings_name_what_is_missing_or_wrong(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VERIFICATION_QUEUE_URL", raising=False)
    with pytest.raises(ConfigurationError, match="VERIFICATION_QUEUE_URL"):
        VerificationSettings.from_env()
    monkeypatch.setenv("VERIFICATION_FIRST_CHECK_SECONDS", "7200")
    monkeypatch.setenv("VERIFICATION_WINDOW_SECONDS", "3600")
    with pytest.raises(ConfigurationError, match="window"):
        policy_from_env()
