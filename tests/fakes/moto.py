"""AWS for the tests: moto in server mode on loopback, and its profile.

One moto process serves the whole session (started on a free port,
stopped by its pid); each test that asks for `aws` gets it reset, with
boto3 pointed at it and the `rcc-aws` profile of the example account
in the test's home. Requests are recorded once a test starts moto's
recorder, so a test can check what boto3 sent.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

MOTO_SERVER = Path(sys.executable).with_name("moto_server")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def post(url: str, body: Any = None) -> bytes:
    data = json.dumps(body).encode() if body is not None else b""
    request = urllib.request.Request(url, data=data, method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        return bytes(answer.read())


@pytest.fixture(scope="session")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto_server for the session, able to record what it is sent."""
    folder = tmp_path_factory.mktemp("moto")
    port = free_port()
    env = {
        **os.environ,
        "MOTO_ENABLE_RECORDING": "True",
        "MOTO_RECORDER_FILEPATH": str(folder / "recording"),
    }
    log = folder / "moto.log"
    with log.open("w") as out:
        process = subprocess.Popen(  # noqa: S603 - an argument list
            [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
            env=env,
            stdout=out,
            stderr=out,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
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
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh moto, boto3 pointed at it, the rcc-aws profile in HOME."""
    post(f"{moto_url}/moto-api/reset")
    folder = Path.home() / ".aws"
    folder.mkdir(exist_ok=True)
    (folder / "credentials").write_text(
        "[rcc-aws]\naws_access_key_id = testing\n"
        "aws_secret_access_key = testing\n"
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    for var in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(var, raising=False)
    return moto_url
