"""Issue 18, the Customer.io credential detector (``ciosec.checks.customerio_secrets``): the shapes
Customer.io issues and the ones this project's models accept are found, look-alikes (UUIDs, git
object ids, other hex ids, other vendors' keys, references, placeholders, secret names) are not;
this repository's own fixtures are found and recorded, audited, in ``.secrets.baseline``; the plugin
loads in detect-secrets from its file; a repository's whole history is scanned."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from ciosec.checks import customerio_secrets
from ciosec.checks.customerio_secrets import (
    SECRET_TYPE,
    CustomerIoDetector,
    find_credentials,
    scan_files,
    scan_history,
    surroundings,
)

ROOT = Path(__file__).resolve().parents[4]
PLUGIN = ROOT / "local" / "ciosec" / "checks" / "customerio_secrets.py"
DETECT_SECRETS = str(Path(sys.executable).with_name("detect-secrets"))
GIT = shutil.which("git") or "git"

# The examples of GitGuardian's Customer.io detectors (docs.gitguardian.com): Track site id and API
# key, 20 hex characters each; App API keys, 32.
SITE_ID, TRACK_KEY = "f82ad78f695bd32f9d99", "1a621ef65edfe6d3b6ae"
APP_KEY = "20436c6351668b25a74a2c289a639d3f"
SIGNING = "Zq3v9Xw2Lr8Tn5Ys1Kd7Pf4Hm6Bc0Ju2Wg9Ea5Vt8Ri3Oy"
GIT_OBJECT_ID = hashlib.sha1(b"blob 0\x00", usedforsecurity=False).hexdigest()


def found(line: str, *, context: tuple[str, ...] = (), filename: str = "settings.py") -> list[str]:
    return list(find_credentials(line, surroundings(filename, [line, *context], file_text="")))


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        (f'CUSTOMERIO-API-KEY = "{TRACK_KEY}";', TRACK_KEY),
        (f'customerio-apiKey = "{TRACK_KEY}"', TRACK_KEY),
        (f"CUSTOMERIO_API_KEY={TRACK_KEY}", TRACK_KEY),  # .env
        (f"  cio_track_key: {TRACK_KEY}  # prod", TRACK_KEY),  # YAML
        (
            f"curl -u {SITE_ID}:{TRACK_KEY} https://track.customer.io/api/v1/accounts/region",
            f"{SITE_ID}:{TRACK_KEY}",
        ),
        (f"https://{SITE_ID}:{TRACK_KEY}@track-eu.customer.io/api/v1", f"{SITE_ID}:{TRACK_KEY}"),
        (f'client = TrackClient(site_id="{SITE_ID}", api_key="{TRACK_KEY}")', TRACK_KEY),
        ('{"site_id": "my-site", "api_key": "any-shape-key-7", "region": "eu"}', "any-shape-key-7"),
        (f'CUSTOMERIO-APP-API-KEY = "{APP_KEY}";', APP_KEY),
        (f'customerio-key = "{APP_KEY}"', APP_KEY),
        (f'{{"app_api_key": "{APP_KEY}", "region": "us"}}', APP_KEY),
        ('APP_API_KEY = "scoped-app-key-0a1b2c3d"', "scoped-app-key-0a1b2c3d"),
        (f'CIO_WEBHOOK_SIGNING_KEY = "{SIGNING}"', SIGNING),
        (f'{{"signing_key": "{SIGNING}"}}  # customer.io reporting webhook', SIGNING),
    ],
)
def test_customerio_credentials_are_found(line: str, secret: str) -> None:
    assert found(line) == [secret]


def test_names_and_mentions_around_a_line_count() -> None:
    # An API key next to a site id is a Track pair; a Bearer App API key counts where Customer.io
    # is named; a signing key where the file names Customer.io.
    assert found(f'api_key = "{TRACK_KEY}"', context=(f'site_id = "{SITE_ID}"',)) == [TRACK_KEY]
    assert found(
        f"Authorization: Bearer {APP_KEY}", context=("POST https://api.customer.io/v1/send/email",)
    ) == [APP_KEY]
    assert found(f"Authorization: Bearer {APP_KEY}") == []
    assert found(f'SIGNING_KEY = "{SIGNING}"') == []
    assert list(
        find_credentials(f'SIGNING_KEY = "{SIGNING}"', surroundings("x.py", [], file_text="customerio"))
    ) == [SIGNING]
    assert found(f'SIGNING_KEY = "{SIGNING}"', filename="config/customerio.py") == [SIGNING]


@pytest.mark.parametrize(
    "line",
    [
        f'site_id = "{SITE_ID}"',  # a site id alone is public (it is in every tracked page)
        f'CUSTOMERIO_SITE_ID = "{SITE_ID}"',
        f'CUSTOMERIO_API_KEY = "{uuid.UUID(int=7)}"',  # a UUID
        f'"request_id": "{uuid.UUID(int=9).hex}"',  # a UUID without its dashes, under an id's name
        f'CUSTOMERIO_API_KEY = "{GIT_OBJECT_ID}"',  # a git object id's shape
        f'cio_api_key = "{hashlib.sha256(b"x").hexdigest()}"',  # a digest
        f'cio_token = "{"5f2b" * 6}"',  # a 24-hex object id
        f'trace_id = "{TRACK_KEY}"',  # issued shape under a name that is no credential
        f'etag: "{APP_KEY}"  # customer.io',  # 32 hex that is no App API key
        f"commit {GIT_OBJECT_ID} customer.io",
        'STRIPE_API_KEY = "sk_live_51H8xYzAbCdEfGhIjKlMnOpQr"',  # another vendor, no site id near
        'api_key = os.environ["CUSTOMERIO_API_KEY"]',  # references
        "CUSTOMERIO_API_KEY: ${{ secrets.CIO_API_KEY }}",
        "api_key: !Ref TrackApiKeyParameter",
        "CUSTOMERIO_API_KEY = get_secret(name)",
        'CUSTOMERIO_API_KEY = "YOUR_API_KEY_HERE"',  # placeholders
        'CUSTOMERIO_API_KEY = "xxxxxxxxxxxxxxxxxxxx"',
        'CUSTOMERIO_API_KEY = "<your track api key>"',
        'SIGNING_SECRET = "cio-security/customerio/webhook-signing-key"',  # a secret's name
        'cio_signing_key_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:cio-AbCdEf"',
        '"x-cio-signature": "554ec97a00a0c53993cf0890efe4c570faaeac9d43b7ef8eb9fae53085f9cd66"',
        '{"site_id": "s", "api_key": "k"}',  # too short to be a key
        '{"site_id": "x", "app_api_key": "app_api_key_secret_id"}',  # names, not values
        'CUSTOMERIO_API_KEY = "TRACK_API_KEY_PARAMETER"',
    ],
)
def test_look_alikes_are_not_credentials(line: str) -> None:
    assert found(line, filename="customerio_config.py") == []


# -- this repository's own fixtures and secrets gate ---------------------------------------------------

# Customer.io credentials among the test fixtures (file, a fragment of the line that holds one).
FIXTURES = [
    ("tests/fixtures/sandbox.py", "SANDBOX_API_KEY = "),
    ("tests/fixtures/sandbox.py", "SANDBOX_APP_API_KEY = "),
    ("tests/integration/rotation/conftest.py", 'site_id="site-pending"'),
    ("tests/integration/rotation/conftest.py", 'site_id="site-other"'),
    ("tests/integration/rotation/conftest.py", "SIGNING_CURRENT = "),
    ("tests/integration/rotation/conftest.py", "SIGNING_NEW = "),
    ("tests/integration/webhook/conftest.py", "SIGNING_KEY = "),
    ("tests/integration/gdpr_deletion/conftest.py", 'site_id="site-rotated"'),
    ("tests/chaos/test_deletion_chaos.py", 'site_id="chaos-site"'),
    ("tests/unit/secrets/test_secrets.py", "API_KEY = "),
    ("local/ciosec/emulator/local_stack.py", "LOCAL_SIGNING_KEY = "),
]


@pytest.mark.parametrize(("path", "fragment"), FIXTURES)
def test_the_repository_fixtures_are_found(path: str, fragment: str) -> None:
    lines = (ROOT / path).read_text().splitlines()
    numbers = [n for n, line in enumerate(lines, start=1) if fragment in line]
    assert numbers, f"{fragment!r} is no longer in {path}"
    assert {f.line for f in scan_files([ROOT / path])} >= set(numbers)


def test_the_secrets_gate_uses_the_plugin_and_lists_its_findings_as_test_values() -> None:
    baseline = json.loads((ROOT / ".secrets.baseline").read_text())
    plugins = {p["name"]: p for p in baseline["plugins_used"]}
    assert plugins["CustomerIoDetector"]["path"] == "file://local/ciosec/checks/customerio_secrets.py"
    ours = {
        (name, item["line_number"]): item
        for name, items in baseline["results"].items()
        for item in items
        if item["type"] == SECRET_TYPE
    }
    assert ours and all(item["is_secret"] is False for item in ours.values())  # audited: test values
    recorded = {name for name, _ in ours}
    assert {path for path, _ in FIXTURES} <= recorded


def test_detect_secrets_loads_the_plugin_from_its_file(tmp_path: Path) -> None:
    config = tmp_path / "settings.env"
    config.write_text(f"# Customer.io\nCUSTOMERIO_SITE_ID={SITE_ID}\nCUSTOMERIO_API_KEY={TRACK_KEY}\n")
    result = subprocess.run(
        [
            DETECT_SECRETS,
            "scan",
            "--plugin",
            str(PLUGIN),
            "--disable-plugin",
            "HexHighEntropyString",
            "settings.env",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    results = json.loads(result.stdout)["results"]["settings.env"]
    ours = [item for item in results if item["type"] == SECRET_TYPE]
    assert [item["line_number"] for item in ours] == [3]
    assert ours[0]["hashed_secret"] == hashlib.sha1(TRACK_KEY.encode(), usedforsecurity=False).hexdigest()
    assert TRACK_KEY not in result.stdout


def test_the_detector_class_reads_its_context() -> None:
    detector = CustomerIoDetector()
    secrets = detector.analyze_line(filename="nowhere.py", line=f'api_key = "{TRACK_KEY}"')
    assert secrets == set()  # nothing around it says Customer.io
    secrets = detector.analyze_line(filename="customerio.py", line=f'api_key = "{TRACK_KEY}"')
    assert {s.secret_value for s in secrets} == {TRACK_KEY}


# -- the whole history --------------------------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        [GIT, "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_a_credential_removed_from_the_tree_is_found_in_the_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "app.py").write_text("import customerio\n\nPLAN = 'pro'\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "app")
    (repo / "app.py").write_text(f"import customerio\n\nPLAN = 'pro'\nCUSTOMERIO_API_KEY = '{TRACK_KEY}'\n")
    git(repo, "commit", "-q", "-am", "oops")
    leaked = git(repo, "rev-parse", "HEAD").strip()
    (repo / "app.py").write_text("import customerio\n\nPLAN = 'pro'\n")
    git(repo, "commit", "-q", "-am", "remove the key")
    git(repo, "checkout", "-q", "-b", "feature", f"{leaked}~1")
    (repo / "cio.env").write_text(f"CUSTOMERIO_APP_API_KEY={APP_KEY}\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "on a branch")
    branch_commit = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-q", "main")

    assert scan_files([repo / "app.py"]) == []
    history = scan_history(repo)
    assert {(f.commit, f.path, f.line) for f in history} == {
        (leaked, "app.py", 4),
        (branch_commit, "cio.env", 1),
    }

    assert customerio_secrets.main(["--history", str(repo)]) == 1
    out = capsys.readouterr().out
    assert f"{leaked[:12]} app.py:4: {SECRET_TYPE}" in out
    assert TRACK_KEY not in out and APP_KEY not in out
