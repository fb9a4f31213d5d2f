"""httpx logs every request's URL at INFO, and Track API v1 paths hold the person's identifier
(issue 16): the library keeps the HTTP libraries' loggers at WARNING, whatever the application's
level."""

from __future__ import annotations

import logging

import httpx

import cio_security.customerio  # noqa: F401 - importing the package quiets the loggers
from fixtures.logs import LogCapture, sensitive


def test_http_libraries_log_warnings_only() -> None:
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("httpcore").getEffectiveLevel() == logging.WARNING


def test_a_request_url_never_reaches_the_logs(captured_logs: LogCapture) -> None:
    sensitive("person%40example.invalid")
    logging.getLogger().setLevel(logging.DEBUG)
    try:
        with httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200))) as client:
            client.put("https://track.customer.io/api/v1/customers/person%40example.invalid", json={})
    finally:
        logging.getLogger().setLevel(logging.WARNING)
    assert [record for record in captured_logs.records if record.name.startswith(("httpx", "httpcore"))] == []
