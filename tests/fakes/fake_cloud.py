"""A small HTTP(S) server for the vendor fakes: routes and a request log.

Real client libraries (google-auth, the Azure SDK) talk to it; tests
assert on the requests it received.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


Handler = Callable[[Request, re.Match[str]], tuple[int, Any]]


@dataclass
class FakeCloud:
    """Routes by method and path pattern; every request is logged."""

    routes: list[tuple[str, re.Pattern[str], Handler]] = field(
        default_factory=list
    )
    requests: list[Request] = field(default_factory=list)
    url: str = ""

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self.routes.append((method, re.compile(pattern), handler))

    def answer(self, request: Request) -> tuple[int, Any]:
        self.requests.append(request)
        for method, pattern, handler in self.routes:
            match = pattern.fullmatch(request.path)
            if method == request.method and match:
                return handler(request, match)
        return 404, {"error": {"code": 404, "message": request.path}}


def _handler(fake: FakeCloud) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            size = int(self.headers.get("Content-Length") or 0)
            if size:
                self.rfile.read(size)
            parts = urlsplit(self.path)
            request = Request(
                self.command,
                parts.path,
                parse_qs(parts.query),
                dict(self.headers.items()),
            )
            status, body = fake.answer(request)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

    return Handler


class Serving:
    """Serve a FakeCloud on a free loopback port, over TLS if given."""

    def __init__(
        self, fake: FakeCloud, tls: tuple[Path, Path] | None = None
    ) -> None:
        self.fake = fake
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
        scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(
                self.server.socket, server_side=True
            )
            scheme = "https"
        port = self.server.server_address[1]
        fake.url = f"{scheme}://127.0.0.1:{port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, daemon=True
        )

    def __enter__(self) -> FakeCloud:
        self.thread.start()
        return self.fake

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
