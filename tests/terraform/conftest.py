"""Fixtures for the Terraform engine's tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.terraform.helpers import make_shim, set_settings


@pytest.fixture(params=["bundled", "binary"])
def engine_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def local_root(root: Path, engine_kind: str, tmp_path: Path) -> Path:
    """A root on SQLite whose Terraform engine is `engine_kind`."""
    if engine_kind == "binary":
        shim = make_shim(tmp_path / "bin")
        set_settings(root, terraform={"engine": "binary", "binary": str(shim)})
    return root


@pytest.fixture
def no_slurm(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Keep any Slurm found on the machine out of these tests."""
    monkeypatch.setenv("SLURM_CONF", os.devnull)
    yield
