"""events/rotation/*.json: one event per step, in Secrets Manager's shape, that drive a rotation
through the real handler (with SecretId pointed at the moto secret)."""

from __future__ import annotations

import json

from fixtures.functions import EVENTS

from .conftest import PENDING, RotationStack, track_json

STEPS = {"create": "createSecret", "set": "setSecret", "test": "testSecret", "finish": "finishSecret"}


def test_sample_events_rotate_the_track_credentials(rotation: RotationStack) -> None:
    events = {name: json.loads((EVENTS / "rotation" / f"{name}_secret.json").read_text()) for name in STEPS}
    tokens = {event["ClientRequestToken"] for event in events.values()}
    assert len(tokens) == 1
    for name, event in events.items():
        assert set(event) == {"SecretId", "ClientRequestToken", "Step"}
        assert event["Step"] == STEPS[name]
        assert event["SecretId"].startswith("arn:aws:secretsmanager:")
    token = tokens.pop()
    rotation.stage("track", track_json(PENDING))
    rotation.begin("track", token)
    for event in events.values():
        outcome = rotation.app.handler({**event, "SecretId": rotation.arns["track"]}, rotation.context)
        assert outcome["outcome"] == "completed"
    assert rotation.stages("track")[token] == ["AWSCURRENT"]
