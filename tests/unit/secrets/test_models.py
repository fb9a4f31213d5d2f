"""The secrets' models (DESIGN section 2)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cio_security.secrets.models import Pepper, SigningKey, TrackCredentials


class TestSecrets:
    def test_track_credentials_hide_the_key(self) -> None:
        creds = TrackCredentials.model_validate(
            {"site_id": "site", "api_key": "key-value-123", "region": "eu"}
        )
        assert "key-value-123" not in repr(creds) and "key-value-123" not in str(creds.model_dump())
        assert creds.same_as(TrackCredentials(site_id="site", api_key="key-value-123", region="us"))  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        "body",
        [
            {"site_id": "", "api_key": "k"},
            {"site_id": "s", "api_key": ""},
            {"site_id": "s", "api_key": "k", "region": "ap"},
            {"site_id": "s", "api_key": "k\n"},
            {"site_id": "s"},
        ],
    )
    def test_invalid_track_credentials(self, body: dict[str, str]) -> None:
        with pytest.raises(ValidationError):
            TrackCredentials.model_validate(body)

    @pytest.mark.parametrize("key", ["", "short", "x" * 31, "has space " + "x" * 40, "é" * 40, "x" * 513])
    def test_signing_key_shape(self, key: str) -> None:
        with pytest.raises(ValidationError):
            SigningKey.model_validate({"signing_key": key})

    def test_signing_key_ok_and_hidden(self) -> None:
        key = SigningKey.model_validate({"signing_key": "A" * 32})
        assert key.key_bytes() == b"A" * 32 and "AAAA" not in repr(key)

    def test_pepper_length(self) -> None:
        with pytest.raises(ValidationError):
            Pepper.model_validate({"pepper": "p" * 31})
        assert Pepper.model_validate({"pepper": "p" * 32}).key_bytes() == b"p" * 32
