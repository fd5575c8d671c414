"""A local HTTPS server that records requests and answers from routes.

The base of the GCP and Azure billing fakes: real client libraries talk
to it over TLS (a self-signed certificate for 127.0.0.1 made here), and
tests assert on what they sent. It can throttle (429) or fail the next
requests to exercise retries and failure handling.
"""

from __future__ import annotations

import datetime as dt
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
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


Answer = tuple[int, Any]
Route = tuple[str, re.Pattern[str], Callable[[Seen], Answer]]


@dataclass
class FakeApi:
    """Routes, a request log and a queue of forced errors."""

    routes: list[Route] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    errors: list[Answer] = field(default_factory=list)
    url: str = ""

    def route(
        self, method: str, pattern: str, answer: Callable[[Seen], Answer]
    ) -> None:
        self.routes.append((method, re.compile(pattern), answer))

    def throttle(self, times: int, status: int = 429) -> None:
        """Answer the next `times` requests with `status`."""
        body = {"error": {"code": status, "message": "Too many requests"}}
        self.errors += [(status, body)] * times

    def answer(self, request: Seen) -> Answer:
        self.seen.append(request)
        if self.errors:
            return self.errors.pop(0)
        for method, pattern, handler in self.routes:
            if method == request.method and pattern.fullmatch(request.path):
                return handler(request)
        return 404, {"error": {"code": 404, "message": f"no {request.path}"}}


def _handler(api: FakeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            size = int(self.headers.get("Content-Length") or 0)
            parts = urlsplit(self.path)
            request = Seen(
                self.command,
                parts.path,
                parse_qs(parts.query),
                dict(self.headers.items()),
                self.rfile.read(size).decode() if size else "",
            )
            status, body = api.answer(request)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status == 429:
                self.send_header("Retry-After", "0")
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _serve

    return Handler


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate and key for 127.0.0.1."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "fake-cert.pem", folder / "fake-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class Running:
    """A FakeApi served over HTTPS on a free loopback port."""

    def __init__(self, api: FakeApi, cert: Path, key: Path) -> None:
        self.api = api
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(
            self.server.socket, server_side=True
        )
        api.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, daemon=True
        )

    def __enter__(self) -> FakeApi:
        self.thread.start()
        return self.api

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
