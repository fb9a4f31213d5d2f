"""The library's log lines reach the function's output as structured JSON with their fields
(Powertools' handler is copied onto the ``cio_security`` logger by every function at import)."""

from __future__ import annotations

import io
import json
import logging

from .conftest import DeletionStack, deletion_body


def json_lines(text: str) -> list[dict[str, object]]:
    lines = []
    for line in text.splitlines():
        try:
            parsed = json.loads(line)
        except ValueError:
            continue
        if isinstance(parsed, dict):
            lines.append(parsed)
    return lines


def test_a_library_log_line_is_json_with_its_fields(deletion: DeletionStack) -> None:
    library = logging.getLogger("cio_security")
    assert library.handlers, "the function gives the library's logger Powertools' handler"
    assert library.propagate is False  # one line per record, not a second plain-text copy
    # The function's own handlers: the library writes where the function writes.
    function_streams = {
        h for h in logging.getLogger("gdpr-deletion").handlers if type(h) is logging.StreamHandler
    }
    streams = [h for h in library.handlers if h in function_streams]
    assert streams
    output = io.StringIO()
    previous = [h.setStream(output) for h in streams]
    try:
        deletion.send(deletion_body("dsar-logs-1", "user-logs-1"))
        deletion.deliver()
        # A second delivery of an accepted request logs from the library with its request_id.
        deletion.send(deletion_body("dsar-logs-1", "user-logs-1"))
        deletion.deliver()
    finally:
        for handler, stream in zip(streams, previous, strict=True):
            if stream is not None:
                handler.setStream(stream)

    lines = json_lines(output.getvalue())
    from_library = [line for line in lines if str(line.get("name", "")).startswith("cio_security.")]
    assert from_library, "no library line reached the function's output"
    with_request_id = [line for line in from_library if line.get("request_id") == "dsar-logs-1"]
    assert with_request_id, from_library
    line = with_request_id[0]
    assert {"level", "message", "timestamp", "service"} <= set(line)
    assert line["service"] == "gdpr-deletion"
    assert "user-logs-1" not in json.dumps(from_library)  # identifiers are never logged
