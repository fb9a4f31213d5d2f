"""``make demo`` runs its scenario to the end: the webhook stream is not held up by an unprocessable
event, and every deletion request is accounted for; it tells the story scene by scene on stderr,
beside its JSON report on stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def test_demo_accounts_for_every_request(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CUSTOMERIO_"))}
    result = subprocess.run(
        [sys.executable, "-m", "ciosec", "--state", str(tmp_path / "stack.json"), "demo"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(result.stdout[: result.stdout.rindex("}") + 1])
    assert report["webhooks"] == {"signed": 200, "forged": 401}
    # A stream delivered as Customer.io does: the unprocessable event is kept and holds up nothing.
    stream = report["webhook_stream"]
    assert stream["delivered_in_order"] == stream["events"] == 20
    assert stream["published"] == 19
    assert stream["kept"] == {"not_json": 1}
    assert stream["calls"] >= 20  # 20 unless a call took longer than Customer.io's 4 s
    assert stream["answers_to_the_unprocessable_one"][-1] == 200
    assert stream["one_hour_statuses"] == 0
    if not stream["our_transient_failures"]:  # none but on a badly overloaded machine
        assert stream["longest_wait_seconds"] < 3600
        assert "so nothing waited behind it" in result.stdout
    assert stream["if_answered_400"]["events_held_up"] == 10
    assert stream["if_answered_400"]["held_up_days"] == 7.0
    assert report["deletions"].get("completed", 0) + report["deletions"].get("dead-lettered", 0) == 100
    assert report["people_left_in_customerio"] == report["deletions"].get("dead-lettered", 0)
    assert sum(report["faults_injected"].values()) > 0
    assert report["rotation"].endswith("finishSecret completed")
    assert "every request accounted for" in result.stdout
    # One request in the US and the EU workspace, the EU sandbox answering 503 for a while: the US
    # workspace is called once, the EU one until it recovers (a redelivery), both complete.
    workspaces = report["workspaces"]
    assert workspaces["status"] == "completed"
    assert {name: state["status"] for name, state in workspaces["workspaces"].items()} == {
        "us": "completed",
        "eu": "completed",
    }
    assert workspaces["us_batch_calls"] == 1
    assert workspaces["eu_503s"] == 5 and workspaces["eu_batch_calls"] == 6
    assert workspaces["person_left"] == {"us": False, "eu": False}

    # The narrative, scene by scene, each with what a reader should notice.
    story = result.stderr
    scenes = [line for line in story.splitlines() if line.startswith("== ")]
    assert scenes == [
        "== A Customer.io workspace",
        "== Two webhooks",
        "== A stream of webhooks, sent the way Customer.io sends them",
        "== 100 erasures while Customer.io misbehaves, and a credential rotation meanwhile",
        "== One erasure in two workspaces, one of them failing for a while",
        "== Every request accounted for",
    ]
    assert story.count("   Notice: ") == len(scenes)
    assert f"seeded with {report['seeded_people']} people" in story
    assert "answered 200, verified and published" in story and "does not hold: answered 401" in story
    assert "number 10 is signed but is not JSON" in story
    assert "the 10 events behind it would have waited 7.0 days" in story
    assert "Faults injected: " in story and "Faults injected: none" not in story
    assert f"{report['redeliveries']} redeliver" in story
    assert f"Dead letters: {report['deletions'].get('dead-lettered', 0)}" in story
    assert "finishSecret completed" in story
    assert "EU: 6 calls, 5 of them 503" in story and "US: 1 call, accepted at once" in story
    completed = report["deletions"].get("completed", 0)
    assert f"{completed} completed (audit record written, person gone from Customer.io)" in story
    left = report["people_left_in_customerio"]
    assert f"People left in the workspace: {left} (only a dead-lettered request" in story
