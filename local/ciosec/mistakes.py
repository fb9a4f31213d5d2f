"""Ordinary mistakes, told in one line: what is wrong and what to do, never a traceback.

``explain(exc)`` turns an exception that a person's mistake or environment causes (a missing or
unreadable file, no AWS region or credentials, a stack that does not exist, a local stack that is
not running, a port in use, a closed pipe, a ``Mistake`` a command found itself) into that line, or
returns None for anything else: an unexpected exception is a bug and keeps its traceback. Messages
name files, options and stacks, never a file's content, a secret or an identifier. Option values
are checked earlier, as they are parsed (``ciosec.options``).
"""

from __future__ import annotations

import errno
from typing import Final

from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
)

from cio_security.errors import ConfigurationError  # its messages never hold a value

__all__ = ["EXIT_INTERRUPTED", "EXIT_MISTAKE", "Mistake", "explain"]

EXIT_MISTAKE: Final = 2
EXIT_INTERRUPTED: Final = 130
_BAD_CREDENTIALS: Final = frozenset(
    {"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException"}
)


class Mistake(Exception):  # noqa: N818 - what it is to the user: a mistake, not an error of ours
    """A mistake a command found itself (two options that do not go together, a value the stack
    refused): its message is the whole line, shown as ``ciosec: <message>`` with exit status 2."""


def _file_error(exc: OSError) -> str | None:
    name = exc.filename if isinstance(exc.filename, str) else None
    where = f"{name}: " if name else ""
    if isinstance(exc, FileNotFoundError):
        return f"{where}no such file (check the path)"
    if isinstance(exc, IsADirectoryError):
        return f"{where}is a directory: give a file"
    if isinstance(exc, PermissionError):
        return f"{where}permission denied (check the file's permissions)"
    if exc.errno == errno.EADDRINUSE:
        return (
            "the port is already in use (another `make local` running?): stop it, or pick another "
            "port with --port"
        )
    if exc.errno == errno.ECONNREFUSED:
        return "connection refused: is the local stack running? start it with `make local`"
    return None


def _client_error(exc: ClientError) -> str | None:
    error = exc.response.get("Error", {})
    code, message = str(error.get("Code", "")), str(error.get("Message", ""))
    operation = exc.operation_name
    if operation == "DescribeStacks" and code == "ValidationError" and "does not exist" in message:
        return (
            "no such stack in this account and region: check --stack and AWS_DEFAULT_REGION (or the "
            "profile's region)"
        )
    if code in {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}:
        if operation == "UpdateSecretVersionStage":
            # Moving a secret's labels is the incident responder's (OperatorPolicy has no such right).
            return (
                f"AWS refused {operation} (access denied): it takes the stack's incident responder "
                "policy (IncidentResponderPolicyArn) besides the operator policy"
            )
        return (
            f"AWS refused {operation} (access denied): attach the stack's operator policy to the "
            "role or user you run ciosec as"
        )
    if code in {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
    }:
        return "the AWS credentials are invalid or expired: sign in again (for example `aws sso login`)"
    return None


def explain(exc: BaseException) -> str | None:
    """The one-line explanation of ``exc`` when a person's mistake or environment caused it,
    looking through the exceptions it was raised from (a library error that wraps, say, an
    unreachable endpoint explains as the endpoint)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    for link in chain:
        message = _explain_one(link)
        if message is not None:
            return message
    # Last: a library's ConfigurationError says what is wrong, but what it was raised from (a
    # file that cannot be read, say) says it in the person's terms.
    for link in chain:
        if isinstance(link, ConfigurationError):
            return f"invalid configuration: {link}"
    return None


def _explain_one(exc: BaseException) -> str | None:
    if isinstance(exc, Mistake):
        return str(exc)
    if isinstance(exc, BrokenPipeError):
        return "output closed before ciosec finished writing (a closed pipe); nothing else went wrong"
    if isinstance(exc, UnicodeDecodeError):
        return "the input is not UTF-8 text: give a JSON or CSV file in UTF-8"
    if isinstance(exc, NoRegionError):
        return "no AWS region: set AWS_DEFAULT_REGION, or use a profile (AWS_PROFILE) that has one"
    if isinstance(exc, NoCredentialsError):
        return "no AWS credentials: configure a profile (AWS_PROFILE) or sign in, then try again"
    if isinstance(exc, ProfileNotFound):
        return "the AWS profile named by AWS_PROFILE does not exist: check ~/.aws/config"
    if isinstance(exc, EndpointConnectionError):
        return (
            "cannot reach the AWS endpoint: if this is the local stack, it is not running (a state "
            "file left by a stopped `make local`): start it with `make local`"
        )
    if isinstance(exc, ClientError):
        return _client_error(exc)
    if isinstance(exc, OSError):
        return _file_error(exc)
    return None
