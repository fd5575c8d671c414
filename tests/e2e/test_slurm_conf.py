"""`skyway slurm --update-conf` against the real Slurm and slurmdbd."""

from __future__ import annotations

import yaml

from skyway.slurm import accounting
from skyway.slurm.lab import Lab
from tests.e2e.conftest import ACCOUNT


def test_nodes_and_partitions_are_skyways(lab: Lab) -> None:
    ours = lab.command("scontrol", "show", "partition", ACCOUNT).stdout
    theirs = lab.command("scontrol", "show", "partition", "rcc-aws").stdout

    assert "TotalNodes=6 " in ours
    assert f"AllowAccounts={ACCOUNT} " in ours
    assert "TotalNodes=16 " in theirs
    node = lab.command("scontrol", "show", "node", f"{ACCOUNT}-c2-002").stdout
    assert "AvailableFeatures=c2,local,demo-local" in node
    assert "NodeAddr=127.0.0.1" in node


def test_associations_follow_the_accounts_users(lab: Lab) -> None:
    members = accounting.users_of(["demo-local", "rcc-aws"])

    assert {("demo-local", "root"), ("demo-local", "alice")} <= members
    assert {("rcc-aws", u) for u in ("alice", "bob", "carol")} <= members
    assert ("rcc-aws", "root") not in members


def test_sync_removes_unlisted_and_spares_unmanaged(lab: Lab) -> None:
    lab.command("sacctmgr", "-i", "add", "account", "physics")
    lab.command("sacctmgr", "-i", "add", "user", "mallory", "account=physics")
    lab.command("sacctmgr", "-i", "add", "user", "mallory", "account=rcc-gcp")
    path = lab.root / "etc" / "accounts" / "rcc-gcp.yaml"
    original = path.read_text()
    account = yaml.safe_load(original)
    account["users"] = ["alice"]
    path.write_text(yaml.safe_dump(account))
    try:
        dry = lab.skyway("slurm", "--update-conf", "--dry-run")
        assert accounting.users_of(["rcc-gcp"]) == {
            ("rcc-gcp", "alice"),
            ("rcc-gcp", "dave"),
            ("rcc-gcp", "mallory"),
        }
        out = lab.skyway("slurm", "--update-conf")
    finally:
        path.write_text(original)

    assert "remove user dave from rcc-gcp (dry run)" in dry
    assert "remove user mallory from rcc-gcp" in out
    assert accounting.users_of(["rcc-gcp"]) == {("rcc-gcp", "alice")}
    assert accounting.users_of(["physics"]) == {("physics", "mallory")}
    lab.skyway("slurm", "--update-conf")
    assert ("rcc-gcp", "dave") in accounting.users_of(["rcc-gcp"])


def test_job_for_an_account_i_am_not_in_is_refused(lab: Lab) -> None:
    result = lab.command(
        "sbatch",
        "-A",
        "rcc-aws",
        "-p",
        "rcc-aws",
        "-C",
        "c1",
        "--wrap",
        "true",
        check=False,
    )

    assert result.returncode != 0
    assert "Invalid account" in result.stderr


def test_hold_and_release_an_account(lab: Lab) -> None:
    accounting.hold_account(ACCOUNT)
    try:
        assert accounting.account_held(ACCOUNT)
        held = lab.command(
            "sbatch",
            "-A",
            ACCOUNT,
            "-p",
            ACCOUNT,
            "--wrap",
            "true",
            "--hold",
            check=False,
        )
        assert held.returncode != 0
    finally:
        accounting.release_account(ACCOUNT)
    assert not accounting.account_held(ACCOUNT)
