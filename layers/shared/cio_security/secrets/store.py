"""Typed, cached reads of the project's secrets (DESIGN section 2) through Powertools Parameters.

Values are cached for ``SECRETS_CACHE_SECONDS`` (default 300 s) and can be re-read on demand:
the Track client's 401 path calls ``track_credentials_provider(...)(True)`` so a rotated key is
picked up without a redeploy. Secret values never appear in logs or exception texts.

>>> store = SecretStore()                                    # doctest: +SKIP
>>> creds = store.track_credentials()                         # doctest: +SKIP
>>> client = TrackClient(track_credentials_provider(store))   # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import boto3
from aws_lambda_powertools.utilities.parameters import GetParameterError, SecretsProvider
from pydantic import BaseModel, ValidationError

from cio_security import config
from cio_security.errors import SecretError, SecretFormatError, SecretNotFoundError
from cio_security.secrets.models import AppApiKey, Pepper, SigningKey, TrackCredentials
from cio_security.validation import field_names

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

__all__ = ["STAGES", "SecretStore", "Stage", "parse_secret"]

logger = logging.getLogger(__name__)

Stage = Literal["AWSCURRENT", "AWSPENDING", "AWSPREVIOUS"]
STAGES: tuple[Stage, ...] = ("AWSCURRENT", "AWSPENDING", "AWSPREVIOUS")


def parse_secret[M: BaseModel](model: type[M], raw: str | bytes | dict[str, Any], *, name: str) -> M:
    """Validate a secret's JSON against its model; the error names the fields, never the value."""
    try:
        data = json.loads(raw) if isinstance(raw, (str, bytes)) else raw
        return model.model_validate(data)
    except (ValueError, ValidationError) as exc:
        fields = field_names(exc, depth=None) if isinstance(exc, ValidationError) else ()
        detail = f" (invalid fields: {', '.join(fields)})" if fields else " (not a JSON object)"
        raise SecretFormatError(f"secret {name} is not a valid {model.__name__}{detail}") from None


class SecretStore:
    """The project's secrets, read through Powertools Parameters with a cache.

    One Powertools provider per version stage: Powertools' cache key is the secret name alone,
    so a single provider would hand AWSCURRENT back for an AWSPENDING read.
    """

    def __init__(
        self,
        *,
        client: SecretsManagerClient | None = None,
        max_age: int | None = None,
    ) -> None:
        self._client = client
        self._max_age = max_age
        self._providers: dict[Stage, SecretsProvider] = {}
        self._created: dict[str, datetime] = {}
        self._hooked = False
        self._lock = threading.Lock()

    @property
    def client(self) -> SecretsManagerClient:
        """The boto3 Secrets Manager client, created on first use (after moto or the local stack
        has set the endpoint)."""
        with self._lock:
            if self._client is None:
                self._client = boto3.client("secretsmanager", config=config.boto_config())
            if not self._hooked:
                self._client.meta.events.register(
                    "after-call.secrets-manager.GetSecretValue", self._remember_created
                )
                self._hooked = True
            return self._client

    @property
    def max_age(self) -> int:
        """Cache lifetime in seconds: the constructor's value, else ``SECRETS_CACHE_SECONDS``."""
        if self._max_age is not None:
            return self._max_age
        return config.env_int(config.SECRETS_CACHE_SECONDS, config.DEFAULT_SECRETS_CACHE_SECONDS)

    def _provider(self, stage: Stage) -> SecretsProvider:
        provider = self._providers.get(stage)
        if provider is None:
            provider = SecretsProvider(boto3_client=self.client)
            self._providers[stage] = provider
        return provider

    def raw(self, secret_id: str, *, stage: Stage = "AWSCURRENT", force_fetch: bool = False) -> str:
        """The secret string of one version stage. Raises SecretNotFoundError when the secret or
        that stage does not exist, SecretError when it cannot be read for any other reason."""
        try:
            value = self._provider(stage).get(
                secret_id, max_age=self.max_age, force_fetch=force_fetch, VersionStage=stage
            )
        except GetParameterError as exc:
            # Powertools wraps every error in GetParameterError, raised inside its ``except``: the
            # botocore error is the context. ResourceNotFoundException is also what
            # GetSecretValue answers for a version stage no version carries (AWSPENDING outside a
            # rotation): https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html
            if _error_code(exc.__context__) == "ResourceNotFoundException":
                raise SecretNotFoundError(
                    f"secret {secret_id} ({stage}) could not be read: not found"
                ) from None
            raise SecretError(f"secret {secret_id} ({stage}) could not be read") from None
        if isinstance(value, bytes):
            return value.decode("utf-8")
        return str(value)

    def read[M: BaseModel](
        self, model: type[M], secret_id: str, *, stage: Stage = "AWSCURRENT", force_fetch: bool = False
    ) -> M:
        """Read and validate one version of a secret."""
        return parse_secret(model, self.raw(secret_id, stage=stage, force_fetch=force_fetch), name=secret_id)

    def track_credentials(
        self, secret_id: str | None = None, *, force_fetch: bool = False
    ) -> TrackCredentials:
        """The current Track API credentials (``TRACK_CREDENTIALS_SECRET_ID`` by default)."""
        secret_id = secret_id or config.require_env(config.TRACK_CREDENTIALS_SECRET_ID)
        return self.read(TrackCredentials, secret_id, force_fetch=force_fetch)

    def app_api_key(self, secret_id: str | None = None, *, force_fetch: bool = False) -> AppApiKey:
        """The App API key (``APP_API_KEY_SECRET_ID`` by default)."""
        secret_id = secret_id or config.require_env(config.APP_API_KEY_SECRET_ID)
        return self.read(AppApiKey, secret_id, force_fetch=force_fetch)

    def pepper(self, secret_id: str | None = None, *, force_fetch: bool = False) -> Pepper:
        """The hashing pepper (``PEPPER_SECRET_ID`` by default)."""
        secret_id = secret_id or config.require_env(config.PEPPER_SECRET_ID)
        return self.read(Pepper, secret_id, force_fetch=force_fetch)

    def signing_key(
        self, secret_id: str | None = None, *, stage: Stage = "AWSCURRENT", force_fetch: bool = False
    ) -> SigningKey:
        """One version of the webhook signing key (``SIGNING_KEY_SECRET_ID`` by default)."""
        secret_id = secret_id or config.require_env(config.SIGNING_KEY_SECRET_ID)
        return self.read(SigningKey, secret_id, stage=stage, force_fetch=force_fetch)

    def current_version_created(self, secret_id: str) -> datetime | None:
        """When the AWSCURRENT version last read for ``secret_id`` was created: the start of
        AWSPREVIOUS's grace window. GetSecretValue returns ``CreatedDate`` with every value, so
        this costs no call of its own (None before the first AWSCURRENT read)."""
        with self._lock:
            return self._created.get(secret_id)

    def _remember_created(self, parsed: Mapping[str, Any] | None = None, **_: Any) -> None:
        """botocore ``after-call`` hook on GetSecretValue: keep an AWSCURRENT version's CreatedDate
        under the secret's name and ARN (a caller may configure either)."""
        if not parsed or "AWSCURRENT" not in parsed.get("VersionStages", ()):
            return
        created = parsed.get("CreatedDate")
        if not isinstance(created, datetime):
            return
        with self._lock:
            for key in (parsed.get("Name"), parsed.get("ARN")):
                if isinstance(key, str):
                    self._created[key] = created


def _error_code(error: BaseException | None) -> str | None:
    """The AWS error code of a botocore ClientError (None for anything else)."""
    response = getattr(error, "response", None)
    if not isinstance(response, Mapping):
        return None
    code = (response.get("Error") or {}).get("Code")
    return code if isinstance(code, str) else None
