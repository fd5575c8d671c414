"""Run folders past `terraform.keep_run_files_days` go; their rows stay."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml

from skyway import config
from skyway.db import engine, models
from skyway.db.sync import sync_accounts
from skyway.terraform import runs
from tests.conftest import Cli

ACCOUNT = "demo-local"


def _site(root: Path, days: int | None) -> config.Config:
    path = root / "etc" / "skyway.yaml"
    settings = yaml.safe_load(path.read_text()) or {}
    terraform = settings.setdefault("terraform", {})
    terraform["keep_run_files_days"] = days
    path.write_text(yaml.safe_dump(settings))
    cfg = config.load(root)
    engine.migrate(cfg.database_url)
    with engine.session_scope(cfg.database_url) as session:
        sync_accounts(session, cfg)
    return cfg


def _run(cfg: config.Config, age_days: int, status: str) -> int:
    with engine.session_scope(cfg.database_url) as session:
        run = runs.start(session, cfg, ACCOUNT, "resume", trigger="test")
        (run.dir / "plan.tfplan").write_text("plan")
        run.row.status = status
        run.row.started_at = models.utcnow() - dt.timedelta(days=age_days)
        return run.id


def _prune(cfg: config.Config) -> list[int]:
    with engine.session_scope(cfg.database_url) as session:
        return runs.prune(session, cfg, ACCOUNT)


def _folder(cfg: config.Config, run_id: int) -> Path:
    return cfg.state_dir / "runs" / ACCOUNT / str(run_id)


def test_old_folders_go_rows_and_recent_ones_stay(root: Path) -> None:
    cfg = _site(root, 30)
    old = _run(cfg, 40, "applied")
    waiting = _run(cfg, 40, "planned")
    recent = _run(cfg, 2, "applied")

    assert _prune(cfg) == [old]

    assert not _folder(cfg, old).exists()
    assert _folder(cfg, waiting).is_dir()
    assert _folder(cfg, recent).is_dir()
    with engine.session_scope(cfg.database_url) as session:
        row = session.get(models.TerraformRun, old)
        assert row is not None and row.status == "applied"
        assert not runs.files_kept(row)
    assert _prune(cfg) == []


def test_without_a_retention_every_folder_stays(root: Path) -> None:
    cfg = _site(root, None)
    old = _run(cfg, 4000, "applied")

    assert _prune(cfg) == []
    assert _folder(cfg, old).is_dir()


def test_a_row_pointing_outside_the_runs_is_left_alone(root: Path) -> None:
    cfg = _site(root, 30)
    elsewhere = root / "precious"
    elsewhere.mkdir()
    old = _run(cfg, 40, "applied")
    with engine.session_scope(cfg.database_url) as session:
        row = session.get(models.TerraformRun, old)
        assert row is not None
        row.run_dir = str(elsewhere)

    assert _prune(cfg) == []
    assert elsewhere.is_dir()


def test_show_says_the_files_were_removed(root: Path, cli: Cli) -> None:
    cfg = _site(root, 30)
    old = _run(cfg, 40, "applied")
    _prune(cfg)

    shown = cli("cloud", ACCOUNT, "--show", str(old))

    assert shown.code == 0
    assert "(removed: past terraform.keep_run_files_days)" in shown.out
