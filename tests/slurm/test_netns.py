"""When a local-vendor node may start slurmd, without Slurm running."""

from __future__ import annotations

import datetime as dt
import math
import time
from pathlib import Path

from skyway import config, nodes
from skyway.db import engine, models
from skyway.db.sync import sync_accounts
from skyway.slurm import netns

NODE = "demo-local-c1-001"


def _queue_resume(root: Path, at: dt.datetime) -> config.Config:
    cfg = config.load(root)
    engine.migrate(cfg.database_url)
    with engine.session_scope(cfg.database_url) as session:
        sync_accounts(session, cfg)
        nodes.request(session, "demo-local", [NODE], "resume", requested_at=at)
    return cfg


def test_slurmd_waits_for_the_second_after_a_fresh_resume(root: Path) -> None:
    while time.time() % 1 > 0.5:  # leave a wait worth measuring
        time.sleep(0.05)
    now = models.utcnow()
    cfg = _queue_resume(root, now)

    netns._after_resume_second(cfg, NODE)

    second = math.floor(now.replace(tzinfo=dt.UTC).timestamp())
    assert time.time() >= second + 1


def test_slurmd_does_not_wait_after_an_old_resume(root: Path) -> None:
    cfg = _queue_resume(root, models.utcnow() - dt.timedelta(seconds=5))
    start = time.monotonic()

    netns._after_resume_second(cfg, NODE)

    assert time.monotonic() - start < 0.2
