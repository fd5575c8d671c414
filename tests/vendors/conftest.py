"""Fixtures for the vendor tests: moto in server mode on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto_server on a free loopback port, stopped by its pid."""
    port = free_port()
    binary = Path(sys.executable).with_name("moto_server")
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(binary), "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=out,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError(f"moto_server did not start: {log.read_text()}")
        yield url
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def aws(moto_url: str, root: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh moto, and the rcc-aws profile in the test's home."""
    request = urllib.request.Request(f"{moto_url}/moto-api/reset", b"")
    urllib.request.urlopen(request, timeout=10)
    home = Path.home()
    (home / ".aws").mkdir(exist_ok=True)
    (home / ".aws" / "credentials").write_text(
        "[rcc-aws]\naws_access_key_id = testing\n"
        "aws_secret_access_key = testing\n"
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    for var in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(var, raising=False)
    return moto_url
