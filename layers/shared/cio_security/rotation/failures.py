"""How a failed rotation step ends (DESIGN 5): left for Secrets Manager's retry, or abandoned.

Two facts of Secrets Manager decide it:

- it retries a failed rotation: "If any rotation step fails, Secrets Manager retries the entire
  rotation process multiple times" (https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_lambda.html);
- while AWSPENDING is attached to a version other than AWSCURRENT, "any later invocation of
  RotateSecret assumes that a previous rotation request is still in progress and returns an
  error" ("A previous rotation isn't complete"), and a failed rotation may leave it "attached to
  an empty secret version" (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_RotateSecret.html).
  That blocks every later rotation and every stack update that touches the RotationSchedule;
  to start a rotation AWSPENDING must be "not attached to any version at all" or attached to
  the AWSCURRENT version (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CancelRotateSecret.html).

Every failed step therefore removes AWSPENDING from its version (``versions.abandon``): nothing
says which of Secrets Manager's retries is the last, and a label left behind blocks everything.
The two ways a step fails differ in what comes next:

- ``RetryableRotationError``: a retry can still succeed (Customer.io answered 5xx or 429, timed
  out or reset the connection; Secrets Manager throttled, failed on its side or could not be
  reached). The value stays staged; Secrets Manager's retry with the same token puts the label
  back and resumes (``protocol._resumed``).
- any other ``RotationError``: no retry can succeed (nothing staged, an invalid value or the
  current one staged, credentials of another workspace or region, Customer.io's 401/403, an
  answer that cannot be compared, a permission the function lacks); the message says what to do.

An exception that is not a RotationError (a defect) also removes the label, and goes on as it is.
"""

from __future__ import annotations

from typing import Final

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from cio_security.errors import RotationError

__all__ = ["TRANSIENT_SECRETS_MANAGER_CODES", "RetryableRotationError", "aws_error_code", "is_transient"]

TRANSIENT_SECRETS_MANAGER_CODES: Final = frozenset(
    {
        # Secrets Manager's common errors that a later call can get past
        # (https://docs.aws.amazon.com/secretsmanager/latest/apireference/CommonErrors.html;
        # InternalServiceError is answered with HTTP 400 there, so the code decides, not the
        # status), plus the throttling and timeout codes AWS SDKs retry.
        "InternalServiceError",
        "InternalServiceFailure",
        "InternalFailure",
        "ServiceUnavailable",
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
    }
)


class RetryableRotationError(RotationError):
    """A step failed for a reason Secrets Manager's retry can still get past: the retry puts the
    version's AWSPENDING label back and resumes while its value is still staged. The message says
    that Secrets Manager retries."""


def aws_error_code(exc: ClientError | BotoCoreError) -> str:
    """The error code of a Secrets Manager failure (a ClientError's code, else the exception's
    type name): safe to log, it holds no value."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "Unknown"))
    return type(exc).__name__


def is_transient(exc: ClientError | BotoCoreError) -> bool:
    """True when a later call may succeed: a throttle, a server-side error (HTTP 5xx), a timeout
    or a connection that could not be made or was dropped."""
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return aws_error_code(exc) in TRANSIENT_SECRETS_MANAGER_CODES or int(status) >= 500
    return isinstance(exc, (BotoConnectionError, HTTPClientError))
