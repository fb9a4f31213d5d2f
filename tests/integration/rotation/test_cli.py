"""``ciosec secrets stage|rotate|status`` end to end against moto and the sandbox: the CLI drives
the four steps itself for a stack without Secrets Manager's rotation (the local stack)."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from ciosec.cli import main
from ciosec.operations.stack import StackInfo
from ciosec.sandbox import CredentialSet, Sandbox
from fixtures.aws import REGION
from fixtures.logs import sensitive

from .conftest import (
    CURRENT,
    OTHER_WORKSPACE,
    PENDING,
    SECRET_VALUES,
    SIGNING_CURRENT,
    SIGNING_NEW,
    SIGNING_SECRET,
    TRACK_SECRET,
    assert_no_secret_values,
    create_secrets,
    signing_json,
    track_json,
)


@dataclass
class Cli:
    sm: Any
    state: Path
    capsys: pytest.CaptureFixture[str]
    monkeypatch: pytest.MonkeyPatch

    def __call__(self, *argv: str, stdin: str | None = None) -> tuple[int, str, str]:
        if stdin is not None:
            self.monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = main(["--state", str(self.state), *argv])
        out, err = self.capsys.readouterr()
        assert_no_secret_values(out + err)
        return code, out, err

    def current(self, secret: str = TRACK_SECRET) -> Any:
        return json.loads(
            self.sm.get_secret_value(SecretId=secret, VersionStage="AWSCURRENT")["SecretString"]
        )

    def staged(self, secret: str = TRACK_SECRET) -> str:
        return str(self.sm.get_secret_value(SecretId=secret + "/staged")["SecretString"])

    def stages(self, secret: str = TRACK_SECRET) -> list[list[str]]:
        versions = self.sm.describe_secret(SecretId=secret)["VersionIdsToStages"]
        return sorted(sorted(s) for s in versions.values() if s)


@pytest.fixture
def cli(
    tmp_path: Path,
    rotation_sandbox: Sandbox,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Cli]:
    sensitive(*SECRET_VALUES)
    with mock_aws():
        sm = boto3.client("secretsmanager", region_name=REGION)
        arns = create_secrets(sm)
        state = tmp_path / "stack.json"
        StackInfo(
            track_credentials_secret_id=arns["track"],
            signing_key_secret_id=arns["signing_key"],
            sandbox_url=rotation_sandbox.url,
            region=REGION,
        ).save(state)
        yield Cli(sm, state, capsys, monkeypatch)


def test_stage_from_stdin_then_rotate_track_credentials(cli: Cli) -> None:
    # what `ciosec sandbox new-credentials` prints: the set with its environment_id
    piped = json.dumps({**json.loads(track_json(PENDING)), "environment_id": PENDING.environment_id})
    code, out, err = cli("secrets", "stage", "track", stdin=piped)
    assert code == 0
    assert "staged in cio-security/customerio/track-credentials/staged" in out
    assert "ignored field(s): environment_id" in err
    # Labelled with the workspace it was staged for (the primary's name: default).
    assert json.loads(cli.staged()) == {**json.loads(track_json(PENDING)), "workspace": "default"}
    assert cli.current() == json.loads(track_json(CURRENT))  # staging changes nothing yet

    code, out, _ = cli("secrets", "rotate", "track")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == [
        "createSecret",
        "setSecret",
        "testSecret",
        "finishSecret",
    ]
    assert "may now be deleted in Customer.io" in out
    assert cli.current() == {**json.loads(track_json(PENDING)), "workspace": "default"}
    assert cli.staged() == "{}"
    assert cli.stages() == [["AWSCURRENT"], ["AWSPREVIOUS"]]


def test_stage_and_rotate_the_signing_key_from_a_bare_key(cli: Cli) -> None:
    secret = "cio-security/customerio/webhook-signing-key"
    assert cli("secrets", "stage", "signing-key", stdin=SIGNING_NEW + "\n")[0] == 0
    assert cli("secrets", "rotate", "signing-key")[0] == 0
    assert cli.current(secret) == {"signing_key": SIGNING_NEW, "workspace": "default"}
    assert cli.stages(secret) == [["AWSCURRENT"], ["AWSPREVIOUS"]]


@pytest.mark.parametrize(("kind", "secret"), [("track", TRACK_SECRET), ("signing-key", SIGNING_SECRET)])
def test_rotate_with_nothing_staged_says_what_to_do(cli: Cli, kind: str, secret: str) -> None:
    code, _, err = cli("secrets", "rotate", kind)
    assert code == 1
    assert "nothing was promoted" in err
    assert f"to secret {secret}/staged and rotate again" in err  # the library: what to write where
    assert f"to stage a new value: ciosec secrets stage {kind}" in err  # the CLI: which command
    assert "AWSPENDING was removed from version" in err
    assert cli.stages(secret) == [["AWSCURRENT"]]


@pytest.mark.parametrize(
    ("kind", "stdin", "reason"),
    [
        ("track", '{"site_id": "s", "region": "us"}', "invalid fields: api_key"),
        ("track", "site-and-key-as-text", "not a JSON object"),
        ("track", "", "nothing on standard input"),
        ("signing-key", "short", "invalid fields: signing_key"),
        ("signing-key", signing_json(SIGNING_CURRENT), "this is the current value"),
    ],
)
def test_stage_refuses_what_cannot_be_rotated_to(cli: Cli, kind: str, stdin: str, reason: str) -> None:
    code, _, err = cli("secrets", "stage", kind, stdin=stdin)
    assert code == 1
    assert reason in err
    assert "site-and-key-as-text" not in err
    assert cli.staged() == "{}"


def test_a_refused_rotation_leaves_no_awspending(cli: Cli) -> None:
    assert cli("secrets", "stage", "track", stdin=track_json(OTHER_WORKSPACE))[0] == 0
    code, _, err = cli("secrets", "rotate", "track")
    assert code == 1
    assert "another workspace" in err
    assert "AWSPENDING was removed from version" in err
    assert "ciosec secrets stage track" in err
    assert cli.current() == json.loads(track_json(CURRENT))
    assert cli.stages() == [["AWSCURRENT"]]  # nothing for Secrets Manager to call unfinished

    code, out, _ = cli("secrets", "status", "track")
    assert "unfinished" not in out

    assert cli("secrets", "stage", "track", stdin=track_json(PENDING))[0] == 0
    code, out, _ = cli("secrets", "rotate", "track")
    assert code == 0
    assert "discarded" not in out
    assert cli.current() == {**json.loads(track_json(PENDING)), "workspace": "default"}
    assert cli.stages() == [["AWSCURRENT"], ["AWSPREVIOUS"]]


def test_a_rotation_that_failed_for_now_leaves_no_label_and_the_next_one_starts(
    cli: Cli, rotation_sandbox: Sandbox
) -> None:
    """Customer.io unavailable: the pending version loses AWSPENDING (a label left behind would
    block every later rotation and stack update); the value stays staged, so the operator's next
    rotate (or Secrets Manager's retry) succeeds."""
    assert cli("secrets", "stage", "track", stdin=track_json(PENDING))[0] == 0
    rotation_sandbox.fail_next(times=2, status=503, operation="region")
    code, _, err = cli("secrets", "rotate", "track")
    assert code == 1
    assert "Secrets Manager's retry resumes this one" in err
    assert "to retry: ciosec secrets rotate track" in err
    assert cli.stages() == [["AWSCURRENT"]]
    code, out, _ = cli("secrets", "status", "track")
    assert "unfinished" not in out and "a valid value is staged" in out

    code, out, _ = cli("secrets", "rotate", "track")
    assert code == 0
    assert "discarded" not in out
    assert cli.current() == {**json.loads(track_json(PENDING)), "workspace": "default"}
    assert cli.stages() == [["AWSCURRENT"], ["AWSPREVIOUS"]]


def test_status_shows_no_values(cli: Cli) -> None:
    assert cli("secrets", "stage", "track", stdin=track_json(PENDING))[0] == 0
    code, out, _ = cli("secrets", "status")
    assert code == 0
    assert "cio-security/customerio/track-credentials (track)" in out
    assert "a valid value is staged" in out
    assert "cio-security/customerio/webhook-signing-key (signing_key)" in out
    assert "nothing staged" in out


def test_values_are_never_command_line_arguments(cli: Cli) -> None:
    with pytest.raises(SystemExit):
        main(["--state", str(cli.state), "secrets", "stage", "track", track_json(PENDING)])


def test_rotate_against_a_deployed_stack_asks_secrets_manager(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a rotation function (a deployed stack) the CLI calls RotateSecret and waits; it does
    not run the steps itself."""
    import ciosec.commands.secrets as command

    info = json.loads(cli.state.read_text())
    cli.state.write_text(json.dumps({**info, "rotation_function": "arn:aws:lambda:eu-west-1:1:function:r"}))
    calls: list[tuple[str, Any]] = []
    monkeypatch.setattr(command, "start_rotation", lambda _c, sid: calls.append(("start", sid)) or "tok")
    monkeypatch.setattr(
        command, "wait_for_rotation", lambda _c, sid, token, timeout: calls.append(("wait", timeout)) or True
    )
    code, out, _ = cli("secrets", "rotate", "track", "--wait", "30")
    assert code == 0
    assert calls == [("start", info["track_credentials_secret_id"]), ("wait", 30.0)]
    assert "version tok is now AWSCURRENT" in out
    assert cli.stages() == [["AWSCURRENT"]]  # nothing ran locally


# -- issue 18: the response to a leaked credential ------------------------------------------------------


def _delete_in_customerio_once_rotated(cli: Cli, sandbox: Sandbox) -> threading.Thread:
    """What the operator does while the command waits: once the new set is AWSCURRENT, delete the
    leaked one in Customer.io (here, the sandbox)."""

    def delete() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            current = cli.current()
            current.pop("workspace", None)  # the label the incident's staging adds
            if current == json.loads(track_json(PENDING)):
                sandbox.remove_credentials(CURRENT.site_id)
                return
            time.sleep(0.05)

    thread = threading.Thread(target=delete, daemon=True)
    thread.start()
    return thread


def test_incident_replaces_a_leaked_track_set_and_records_each_step(
    cli: Cli, rotation_sandbox: Sandbox, tmp_path: Path
) -> None:
    record = tmp_path / "incidents.jsonl"
    thread = _delete_in_customerio_once_rotated(cli, rotation_sandbox)
    code, out, err = cli(
        "secrets", "incident", "track", "--yes", "--record", str(record), "--revocation-timeout", "20",
        stdin=track_json(PENDING),
    )  # fmt: skip
    thread.join(timeout=30)
    assert code == 0, err
    assert "confirmed: Customer.io refused the leaked credential" in out
    # Staged with its workspace's label, as `secrets stage` does.
    assert cli.current() == json.loads(track_json(PENDING)) | {"workspace": "default"}
    entries = [json.loads(line) for line in record.read_text().splitlines()]
    assert [(e["step"], e["outcome"]) for e in entries] == [
        ("started", "done"),
        ("created", "done"),
        ("staged", "done"),
        ("rotated", "done"),
        ("new_credential_works", "confirmed"),
        ("old_credential_deleted", "done"),
        ("old_credential_refused", "confirmed"),
    ]
    assert {e["secret"] for e in entries} == {TRACK_SECRET}
    # Who: the AWS caller identity (moto's here; the local stack's state names a local user).
    assert {e["who"] for e in entries} == {"arn:aws:sts::123456789012:user/moto"}
    assert_no_secret_values(record.read_text())


def test_incident_without_a_terminal_needs_yes(cli: Cli, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="pass --yes"):
        cli("secrets", "incident", "track", "--record", str(tmp_path / "r.jsonl"), stdin=track_json(PENDING))
    assert cli.current() == json.loads(track_json(CURRENT))
    assert not (tmp_path / "r.jsonl").exists()


def test_incident_reports_a_leaked_set_that_still_works(cli: Cli, tmp_path: Path) -> None:
    record = tmp_path / "r.jsonl"
    code, _, err = cli(
        "secrets", "incident", "track", "--yes", "--record", str(record), "--revocation-timeout", "1",
        stdin=track_json(PENDING),
    )  # fmt: skip
    assert code == 1
    assert "the response is not complete" in err
    last = json.loads(record.read_text().splitlines()[-1])
    assert (last["step"], last["outcome"]) == ("old_credential_refused", "not_confirmed")


# -- issue 15: every workspace's secrets -----------------------------------------------------------------

BRAND_B = "brand-b"
BRAND_B_PREFIX = f"cio-security/customerio/workspaces/{BRAND_B}/"
BRAND_B_NEXT = CredentialSet(
    site_id="site-other-next",
    api_key="oth-next-key-1c2d3e4f5a6b7c8d",
    environment_id=OTHER_WORKSPACE.environment_id,
    region="us",
)
BRAND_B_APP_KEY = "app-key-brand-b-9f8e7d6c5b4a"


@pytest.fixture
def two_workspaces(cli: Cli, rotation_sandbox: Sandbox) -> Cli:
    """The stack with a second workspace, brand-b (another workspace of the sandbox), whose secrets
    the template generated (named by the convention) and an earlier rotation filled."""
    sensitive(BRAND_B_NEXT.api_key, BRAND_B_APP_KEY)
    rotation_sandbox.add_credentials(BRAND_B_NEXT)
    values = {
        "track-credentials": track_json(OTHER_WORKSPACE),
        "webhook-signing-key": signing_json(SIGNING_CURRENT + "-b"),
        "app-api-key": '{"app_api_key":"","region":"us"}',
    }
    for kind, value in values.items():
        cli.sm.create_secret(Name=BRAND_B_PREFIX + kind, SecretString=value)
        cli.sm.create_secret(Name=BRAND_B_PREFIX + kind + "/staged", SecretString="{}")
    info = json.loads(cli.state.read_text())
    info.update(workspaces=f"default,{BRAND_B}", workspace_secret_prefix="cio-security/customerio/")
    cli.state.write_text(json.dumps(info))
    return cli


def test_stage_and_rotate_another_workspaces_track_credentials(two_workspaces: Cli) -> None:
    cli = two_workspaces
    secret = BRAND_B_PREFIX + "track-credentials"
    code, out, _ = cli("secrets", "stage", "track", "--workspace", BRAND_B, stdin=track_json(BRAND_B_NEXT))
    assert code == 0
    assert f"staged in {secret}/staged; now run: ciosec secrets rotate track --workspace {BRAND_B}" in out
    assert cli.staged() == "{}"  # the primary's stage is untouched

    code, out, err = cli("secrets", "rotate", "track", "--workspace", BRAND_B)
    assert code == 0, err
    assert cli.current(secret) == {**json.loads(track_json(BRAND_B_NEXT)), "workspace": BRAND_B}
    assert cli.staged(secret) == "{}"
    assert cli.stages(secret) == [["AWSCURRENT"], ["AWSPREVIOUS"]]
    assert cli.current() == json.loads(track_json(CURRENT))  # the primary is untouched
    assert cli.stages() == [["AWSCURRENT"]]


def test_the_primary_stays_the_default_target(two_workspaces: Cli) -> None:
    cli = two_workspaces
    code, out, _ = cli("secrets", "stage", "track", stdin=track_json(PENDING))
    assert code == 0
    assert f"staged in {TRACK_SECRET}/staged; now run: ciosec secrets rotate track\n" in out
    assert cli("secrets", "rotate", "track")[0] == 0
    assert cli.current() == {**json.loads(track_json(PENDING)), "workspace": "default"}
    assert cli.current(BRAND_B_PREFIX + "track-credentials") == json.loads(track_json(OTHER_WORKSPACE))


@pytest.mark.parametrize("command", [("stage", "track"), ("rotate", "signing-key"), ("status",)])
def test_an_unknown_workspace_is_one_line_naming_the_stacks(
    two_workspaces: Cli, command: tuple[str, ...]
) -> None:
    with pytest.raises(SystemExit) as refused:
        two_workspaces("secrets", *command, "--workspace", "brand-c", stdin=track_json(PENDING))
    assert str(refused.value) == "unknown workspace 'brand-c': the stack's workspaces are default, brand-b"
    assert two_workspaces.staged() == "{}"


def test_stage_another_workspaces_app_api_key(two_workspaces: Cli) -> None:
    cli = two_workspaces
    secret = BRAND_B_PREFIX + "app-api-key"
    piped = json.dumps({"app_api_key": BRAND_B_APP_KEY, "region": "us"})
    code, out, _ = cli("secrets", "stage", "app-api-key", "--workspace", BRAND_B, stdin=piped)
    assert code == 0
    assert (
        f"staged in {secret}/staged; now run: ciosec secrets rotate app-api-key --workspace {BRAND_B}" in out
    )
    assert json.loads(cli.staged(secret)) == {
        "app_api_key": BRAND_B_APP_KEY,
        "region": "us",
        "workspace": BRAND_B,
    }


def test_status_of_another_workspace_names_its_three_secrets(two_workspaces: Cli) -> None:
    code, out, _ = two_workspaces("secrets", "status", "--workspace", BRAND_B)
    assert code == 0
    for kind, name in (("track", "track-credentials"), ("signing_key", "webhook-signing-key")):
        assert f"{BRAND_B_PREFIX}{name} ({kind})" in out
    assert f"{BRAND_B_PREFIX}app-api-key (app_api_key)" in out
    assert TRACK_SECRET + " " not in out


def test_a_stack_file_from_before_workspaces_has_one_workspace(cli: Cli) -> None:
    with pytest.raises(SystemExit, match=r"the stack's workspaces are default$"):
        cli("secrets", "stage", "track", "--workspace", "prod-eu", stdin=track_json(PENDING))
    code, out, _ = cli("secrets", "status")  # no App API key secret in that file: two kinds
    assert code == 0
    assert "(app_api_key)" not in out


def test_the_label_is_the_targeted_workspace_whatever_standard_input_says(two_workspaces: Cli) -> None:
    """``--workspace`` decides the label; a ``workspace`` field piped in is ignored (reported), so
    a value copied from another workspace's stage carries its new workspace's name."""
    cli = two_workspaces
    secret = BRAND_B_PREFIX + "track-credentials"
    piped = json.dumps({**json.loads(track_json(BRAND_B_NEXT)), "workspace": "default"})
    code, _, err = cli("secrets", "stage", "track", "--workspace", BRAND_B, stdin=piped)
    assert code == 0
    assert "ignored field(s): workspace" in err
    assert json.loads(cli.staged(secret))["workspace"] == BRAND_B
