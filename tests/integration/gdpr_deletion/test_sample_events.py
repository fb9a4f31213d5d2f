"""events/gdpr_deletion/sqs_batch.json through the real handler: the valid requests complete in one
Track v2 batch (their identifier types as stated: a phone number, an email-shaped id), the invalid
ones go to the dead-letter queue with their reasons, and nothing is a batch failure."""

from __future__ import annotations

import json

from fixtures.functions import EVENTS
from fixtures.logs import sensitive

from .conftest import DeletionStack


def test_sample_sqs_batch(deletion: DeletionStack) -> None:
    event = json.loads((EVENTS / "gdpr_deletion" / "sqs_batch.json").read_text())
    bodies = [record["body"] for record in event["Records"]]
    valid = [json.loads(b) for b in bodies if b.rstrip().endswith("}") and '"shred"' not in b]
    identifiers = [request["identifier"] for request in valid]
    sensitive(*identifiers)
    for request in valid:
        if request.get("identifier_type") == "id" and "@" in request["identifier"]:
            deletion.sandbox.add_person("cio_0000beef", {"id": request["identifier"]})  # an email-shaped id
        elif request.get("identifier_type") != "phone":  # the sandbox seeds no phone numbers
            deletion.sandbox.add_person(request["identifier"])

    response = deletion.app.handler(event, deletion.context)

    assert response == {"batchItemFailures": []}
    assert deletion.batches() == [(200, len(valid))]
    assert deletion.sandbox.people() == {}
    erased = {r["identifier"] for r in valid if r.get("action", "erase") == "erase"}
    assert deletion.sandbox.suppressed() == erased
    for request in valid:
        record = deletion.audit(request["request_id"])
        assert record is not None
        assert record.status == "completed"
        assert record.regulation == request.get("regulation", "gdpr")
        assert record.identifier_type == request.get("identifier_type", record.identifier_type)
    dead = {
        m["MessageAttributes"]["source_message_id"]["StringValue"]: m["MessageAttributes"]["reason"][
            "StringValue"
        ]
        for m in deletion.dead_letters()
    }
    assert dead == {
        "0b5c2a1e-0006-4d1a-9a7e-000000000006": "invalid_json",
        "0b5c2a1e-0007-4d1a-9a7e-000000000007": "schema_error",
    }
