"""Serve an API Gateway-backed handler over HTTP on 127.0.0.1: each request becomes the HTTP API
(payload format 2.0) event the template's route would produce; the handler's response becomes the
HTTP response."""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ciosec.emulator.functions import LambdaContext

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
MAX_REQUEST_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
_TEXT_TYPES = ("application/json", "text/", "application/x-www-form-urlencoded", "application/xml")


def http_api_event(
    method: str, raw_path: str, headers: dict[str, str], body: bytes, *, source_ip: str
) -> dict[str, Any]:
    """The payload-format-2.0 event for one request (header names lower-cased, repeated headers
    joined with commas, binary bodies base64-encoded)."""
    path, _, query = raw_path.partition("?")
    content_type = headers.get("content-type", "")
    textual = not content_type or content_type.startswith(_TEXT_TYPES)
    try:
        text = body.decode("utf-8") if textual else None
    except UnicodeDecodeError:
        text = None
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "127.0.0.1",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": f"local-{int(now * 1000)}",
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": text if text is not None else base64.b64encode(body).decode(),
        "isBase64Encoded": text is None,
    }


class ApiGatewayBridge:
    """An HTTP server on 127.0.0.1 that invokes ``handler`` for every request."""

    def __init__(self, handler: Handler, *, port: int = 3000, function_name: str = "webhook") -> None:
        self.handler = handler
        self.function_name = function_name
        self._lock = threading.Lock()  # one invocation at a time, like one execution environment
        bridge = self

        class RequestHandler(BaseHTTPRequestHandler):
            server_version = "ciosec-local"

            def _invoke(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_REQUEST_BYTES:
                    self.send_error(413)
                    return
                body = self.rfile.read(length) if length else b""
                headers: dict[str, str] = {}
                for name, value in self.headers.items():
                    key = name.lower()
                    headers[key] = f"{headers[key]},{value}" if key in headers else value
                event = http_api_event(
                    self.command, self.path, headers, body, source_ip=self.client_address[0]
                )
                with bridge._lock:
                    try:
                        result = bridge.handler(event, LambdaContext(function_name=bridge.function_name))
                    except Exception:  # what API Gateway shows for a crashed function
                        logger.exception("handler raised")
                        result = {"statusCode": 502, "body": '{"message":"Internal Server Error"}'}
                payload = result.get("body") or ""
                data = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
                self.send_response(int(result.get("statusCode", 200)))
                for name, value in (result.get("headers") or {}).items():
                    self.send_header(name, str(value))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_GET = do_PUT = do_DELETE = do_PATCH = _invoke  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                logger.debug("webhook bridge: %s", format % args)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), RequestHandler)
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self.server.serve_forever, name="apigw-bridge", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self._thread:
            self._thread.join(5)
