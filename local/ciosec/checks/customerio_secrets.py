"""A detect-secrets plugin for Customer.io credentials, and a scanner of a repository's whole history
with it. This file stands alone (the standard library and detect-secrets only): copy it into any
repository.

    detect-secrets scan --plugin customerio_secrets.py > .secrets.baseline   # registers it
    python customerio_secrets.py FILE...             # scan files with this plugin alone
    python customerio_secrets.py --history [REPO]    # every commit of every branch of REPO

Both print where a credential is (file and line, or commit, file and line) and its kind, never the
value. ``python -m ciosec.checks.customerio_secrets`` is the same in this repository.

What it finds (Customer.io publishes no format for its keys; the issued shapes below are those of
the examples in GitGuardian's Customer.io detectors, docs.gitguardian.com "Customer.io Track Keys"
and "Customer.io App Keys", which trufflehog's customerio detector agrees with for Track keys; the
other shapes are what this project's secret models accept, cio_security.secrets.models):

- **Track API credentials**: a site id and an API key, 20 lowercase hexadecimal characters each.
  Found as a ``site_id:api_key`` pair in that shape (HTTP Basic auth, ``curl -u``, a URL's
  userinfo); and, in any shape of 8 to 512 characters, as a value assigned to an API key name
  within five lines of a site id (a Track pair), to an API key name that names no vendor
  (``api_key``, ``apiKey``, ``TRACK_API_KEY``) with Customer.io named in the file, or to a name that
  itself says Customer.io and ends in key, token, secret or password (``CUSTOMERIO_API_KEY``,
  ``cio_track_key``, ``customerio-key``).
- **App API keys**: 32 hexadecimal characters. Found assigned to an App API key name
  (``app_api_key``, ``CUSTOMERIO_APP_KEY``) in that shape or, for a name that says App API key,
  in any shape of 8 to 512 characters; and after ``Bearer`` with Customer.io named in the file.
- **Reporting webhook signing keys**: 32 to 512 characters of letters, digits and ``_-+/=.:``
  (the project's SigningKey model) assigned to a name with ``signing`` in it (``signing_key``,
  ``WEBHOOK_SIGNING_KEY``), with Customer.io named in the file.

"Customer.io named in the file": ``customer.io``, ``customerio``, ``customer_io`` or ``cio`` as a
word, in the line, the five lines on either side, the file's name or anywhere in the file (what
GitGuardian's Customer.io detectors ask of a file's content too).

Not matched: UUIDs, git object ids, digests and other hexadecimal ids (hex of another length than 20
or 32 is no Customer.io key; a 32-hex string needs an App API key name or a Customer.io Bearer
header), values that are references (``os.environ[...]``, ``${VAR}``, an unquoted identifier),
placeholders (``YOUR_API_KEY``, ``xxxxxxxx``), secret names and ARNs (``stack/customerio/
webhook-signing-key``), site ids on their own (a site id is public: it is in the JavaScript snippet
of every page that tracks), and credentials of other vendors (an API key named for no vendor, with
no site id nearby and no Customer.io mention, is detect-secrets' KeywordDetector's business).
"""

from __future__ import annotations

import argparse
import functools
import re
import subprocess
import sys
from collections.abc import Generator, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final, NamedTuple

from detect_secrets.plugins.base import RegexBasedDetector
from detect_secrets.util.code_snippet import CodeSnippet

SECRET_TYPE: Final = "Customer.io credential"  # noqa: S105 - the name of a kind of secret

# Customer.io named: "customer.io", "customerio", "customer_io", or "cio" as a word or name part.
_CUSTOMERIO: Final = re.compile(
    r"customer[ ._-]?io|(?<![a-z0-9])cio(?![a-z0-9])|(?<![a-z])cio_", re.IGNORECASE
)
_HEX20: Final = r"[0-9a-f]{20}"
# site_id:api_key, both issued-shape (Basic auth, curl -u, a URL's userinfo).
_TRACK_PAIR: Final = re.compile(rf"(?<![0-9A-Za-z])({_HEX20}:{_HEX20})(?![0-9A-Za-z])")
_BEARER: Final = re.compile(r"\bBearer\s+([0-9a-f]{32})(?![0-9A-Za-z])")
# name <assignment> value: Python, JSON, YAML, TOML, .env, shell, JavaScript. A quoted value runs to
# its closing quote; an unquoted one must end the line (or precede a comment).
_ASSIGNMENT: Final = re.compile(
    r"""(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)["'\]]?\s*(?::=|=>|[:=])\s*"""
    r"""(?:(?P<q>["'`])(?P<quoted>[A-Za-z0-9_\-+/=.:]{8,512})(?P=q)"""
    r"""|(?P<bare>[A-Za-z0-9_\-+/=.:]{8,512})(?=\s*(?:$|\#)))"""
)
_HEX: Final = re.compile(r"[0-9a-fA-F]+")
_UUID: Final = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_PLACEHOLDER: Final = re.compile(r"(?i)(?:your|example|placeholder|changeme|dummy|redacted|<|x{4,}|\*{3,})")
_SIGNING_KEY: Final = re.compile(r"[A-Za-z0-9_\-+/=.:]{32,512}")
# A secret's name or ARN rather than its value: lowercase words joined by "/" ("stack/customerio/
# webhook-signing-key"), or an ARN.
_SECRET_NAME: Final = re.compile(r"arn:.*|[a-z0-9_.-]+(?:/[a-z0-9_.-]+)+")
_CONTEXT_LINES: Final = 5


def _folded(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _is_site_id_name(folded: str) -> bool:
    return folded.endswith("siteid")


def _is_app_key_name(folded: str) -> bool:
    return folded.endswith(("appapikey", "appkey", "apptoken", "appapitoken"))


def _is_api_key_name(folded: str) -> bool:
    return not _is_app_key_name(folded) and folded.endswith(
        ("apikey", "trackkey", "trackingkey", "tracktoken")
    )


# API key names that name no vendor: where Customer.io is named in the file, such a key is taken for
# Customer.io's (STRIPE_API_KEY is not).
_BARE_API_KEY_NAMES: Final = frozenset({"apikey", "trackapikey", "trackingapikey", "trackkey", "trackingkey"})


def _is_signing_name(folded: str) -> bool:
    return "signing" in folded


_IDENTIFIER: Final = re.compile(r"[a-z]+(?:[_.][a-z]+)+|[A-Z]+(?:_[A-Z]+)+")


def _looks_like_a_value(value: str, *, quoted: bool) -> bool:
    """Not a placeholder, a reference or an identifier; something a credential could be."""
    if _PLACEHOLDER.search(value) or len(set(value)) < 4 or _IDENTIFIER.fullmatch(value):
        return False  # a placeholder, or a name (``app_api_key_secret_id``, ``TRACK_API_KEY``)
    if not quoted and not any(char.isdigit() for char in value):
        return False  # an unquoted word is a reference (YAML !Ref targets, variable names)
    return any(char.isalnum() for char in value)


def _hex_id_of_another_kind(value: str) -> bool:
    """A UUID, or hexadecimal of another length than Customer.io's keys (git object ids, digests,
    trace and object ids)."""
    if _UUID.fullmatch(value):
        return True
    return bool(_HEX.fullmatch(value)) and len(value) not in (20, 32)


# NamedTuples rather than dataclasses: detect-secrets imports this file without registering it in
# sys.modules, which dataclasses need.
class _Surroundings(NamedTuple):
    """What the lines around a line say: whether Customer.io is mentioned, a site id assigned."""

    mentions_customerio: bool = False
    site_id_nearby: bool = False


_NAME_ASSIGNED: Final = re.compile(r"([A-Za-z_][\w.-]*)[\"'\]]?\s*[:=]")


def _site_id_assigned(line: str) -> bool:
    return any(_is_site_id_name(_folded(match.group(1))) for match in _NAME_ASSIGNED.finditer(line))


@functools.lru_cache(maxsize=64)
def _file_mentions_customerio(filename: str) -> bool:
    """Whether the file ``filename`` names Customer.io anywhere (False when there is no such file:
    detect-secrets' ``--string``)."""
    try:
        with Path(filename).open(encoding="utf-8", errors="replace") as text:
            return any(_CUSTOMERIO.search(line) for line in text)
    except OSError:
        return False


def surroundings(filename: str, lines: Iterable[str], *, file_text: str | None = None) -> _Surroundings:
    """Whether Customer.io is named in ``filename``, in ``lines`` or anywhere in the file (the file
    ``filename`` on disk, or ``file_text`` when given: GitGuardian's Customer.io detectors ask the
    same of a file's content), and whether a site id is assigned in ``lines``."""
    lines = list(lines)
    mentions = bool(_CUSTOMERIO.search(filename)) or any(_CUSTOMERIO.search(line) for line in lines)
    if not mentions:
        in_file = (
            _CUSTOMERIO.search(file_text) if file_text is not None else _file_mentions_customerio(filename)
        )
        mentions = bool(in_file)
    return _Surroundings(
        mentions_customerio=mentions, site_id_nearby=any(_site_id_assigned(line) for line in lines)
    )


def find_credentials(line: str, around: _Surroundings | None = None) -> Generator[str]:
    """The Customer.io credentials in ``line`` (see the module docstring), given what the lines
    around it say (by default: the line alone)."""
    around = around or surroundings("", [line])
    yield from _TRACK_PAIR.findall(line)
    if around.mentions_customerio:
        yield from _BEARER.findall(line)
    for match in _ASSIGNMENT.finditer(line):
        name, quoted = match.group("name"), match.group("quoted")
        value = quoted if quoted is not None else match.group("bare")
        if not _looks_like_a_value(value, quoted=quoted is not None) or _SECRET_NAME.fullmatch(value):
            continue
        folded = _folded(name)
        named_customerio = bool(_CUSTOMERIO.search(name))
        if _is_signing_name(folded):
            if _SIGNING_KEY.fullmatch(value) and (named_customerio or around.mentions_customerio):
                yield value
            continue
        if _hex_id_of_another_kind(value):
            continue
        if _is_app_key_name(folded):
            if re.fullmatch(r"[0-9a-f]{32}", value) or "appapi" in folded or named_customerio:
                yield value
        elif _is_api_key_name(folded):
            pair = around.site_id_nearby or _site_id_assigned(line)
            if named_customerio or pair or (folded in _BARE_API_KEY_NAMES and around.mentions_customerio):
                yield value
        elif named_customerio and folded.endswith(("key", "token", "secret", "password")):
            yield value  # CUSTOMERIO_KEY, cio_secret: a Customer.io name for a credential


class CustomerIoDetector(RegexBasedDetector):
    """Customer.io Track API credentials, App API keys and reporting webhook signing keys (see the
    module docstring for the shapes and their sources)."""

    secret_type = SECRET_TYPE
    # The issued shapes that need no name (the plugin's other rules read the names around them).
    denylist = (_TRACK_PAIR,)

    def analyze_line(
        self,
        filename: str,
        line: str,
        line_number: int = 0,
        context: CodeSnippet | None = None,
        **kwargs: Any,
    ) -> set[Any]:
        """detect-secrets' entry point: ``line`` with the lines around it (``context``)."""
        context = context or CodeSnippet(snippet=[line], start_line=line_number, target_index=0)
        return super().analyze_line(
            filename=filename,
            line=line,
            line_number=line_number,
            context=context,
            around=surroundings(filename, context.lines),
            **kwargs,
        )

    def analyze_string(self, string: str, around: _Surroundings | None = None, **_: Any) -> Generator[str]:
        yield from find_credentials(string, around)


# -- scanning files and history with this plugin alone ---------------------------------------------------


class Finding(NamedTuple):
    """Where a credential is (never what it is): a file and line, and a commit for history."""

    path: str
    line: int
    commit: str = ""

    def __str__(self) -> str:
        where = f"{self.commit[:12]} {self.path}:{self.line}" if self.commit else f"{self.path}:{self.line}"
        return f"{where}: {SECRET_TYPE}"


def _findings_in(
    path: str, numbered: Sequence[tuple[int, str, bool]], file_text: str, commit: str = ""
) -> list[Finding]:
    """Findings among ``numbered`` (line number, text, whether to scan it: the others are context);
    ``file_text``: what is known of the whole file."""
    found = []
    for index, (number, text, scan) in enumerate(numbered):
        if not scan:
            continue
        window = [t for _, t, _ in numbered[max(0, index - _CONTEXT_LINES) : index + _CONTEXT_LINES + 1]]
        if next(find_credentials(text, surroundings(path, window, file_text=file_text)), None) is not None:
            found.append(Finding(path=path, line=number, commit=commit))
    return found


def scan_files(paths: Iterable[str | Path]) -> list[Finding]:
    """Findings in files (undecodable bytes replaced: a binary file yields nothing)."""
    found = []
    for path in paths:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
        numbered = [(n, line, True) for n, line in enumerate(text.splitlines(), start=1)]
        found += _findings_in(str(path), numbered, text)
    return found


_HUNK: Final = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")
_FILE_HEADER: Final = (
    "diff --git",
    "--- ",
    "index ",
    "new file",
    "deleted file",
    "similarity",
    "rename ",
    "old mode",
)


def _changes(log: str) -> Iterator[tuple[str, str, list[list[tuple[int, str, bool]]]]]:
    """(commit, path, hunks) for every file every commit of ``git log -p`` changes; a hunk holds
    (line number in the new file, text, whether the commit added it)."""
    commit, path = "", ""
    hunks: list[list[tuple[int, str, bool]]] = []
    number = 0
    for line in log.splitlines():
        if line.startswith("commit ") and len(line) == 47:
            if path and hunks:
                yield commit, path, hunks
            commit, path, hunks = line[7:], "", []
        elif line.startswith("+++ "):
            if path and hunks:
                yield commit, path, hunks
            path, hunks = (line[6:] if line.startswith("+++ b/") else ""), []
        elif (start := _HUNK.match(line)) is not None:
            number = int(start.group(1))
            hunks.append([])
        elif line.startswith(_FILE_HEADER) or not hunks:
            continue
        elif line.startswith("+"):
            hunks[-1].append((number, line[1:], True))
            number += 1
        elif line.startswith(" "):
            hunks[-1].append((number, line[1:], False))
            number += 1
    if path and hunks:
        yield commit, path, hunks


def scan_history(repository: str | Path = ".") -> list[Finding]:
    """Findings in every line any commit of any ref added (``git log --all -p``), with the commit
    that added it: a credential removed since is still in the history, and still to be revoked."""
    command = [
        *("git", "-C", str(repository), "log", "--all", "--full-history", "-p"),
        *("--no-color", "--no-ext-diff", "--no-renames", "--format=commit %H", "--unified=5"),
    ]
    # A fixed git command; the repository path is the operator's.
    log = subprocess.run(command, capture_output=True, text=True, errors="replace", check=True).stdout  # noqa: S603
    found: list[Finding] = []
    for commit, path, hunks in _changes(log):
        whole = "\n".join(text for hunk in hunks for _, text, _ in hunk)
        for hunk in hunks:
            found += _findings_in(path, hunk, whole, commit)
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Scan files, or a repository's history, with this plugin alone; exit 1 when it finds any."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("paths", nargs="*", help="files to scan; with --history, the repository (default .)")
    parser.add_argument("--history", action="store_true", help="scan every commit of every ref instead")
    args = parser.parse_args(argv)
    findings = scan_history(args.paths[0] if args.paths else ".") if args.history else scan_files(args.paths)
    for finding in findings:
        print(finding)
    print(f"{len(findings)} Customer.io credential(s) found", file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
