"""Configuration: the examples load, and broken files get one clear line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from skyway import config
from skyway.errors import ConfigError
from tests.conftest import Cli


def test_examples_load_with_every_vendor(root: Path) -> None:
    loaded = config.load(root)

    assert sorted(loaded.accounts) == [
        "demo-local",
        "rcc-aws",
        "rcc-azure",
        "rcc-gcp",
    ]
    assert loaded.accounts["rcc-aws"].cloud_id == "123456789012"
    assert loaded.accounts["rcc-gcp"].region == "us-central1"
    assert loaded.vendors["aws"].node_types["g1"].gpus == 1
    assert loaded.database_url.endswith("state/skyway.db")


def test_root_from_environment(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SKYWAY_ROOT", str(root))
    assert config.load().root == root.resolve()


def test_missing_root_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a Skyway root"):
        config.load(tmp_path / "nowhere")


def _edit(path: Path, change: dict[str, object]) -> None:
    data = yaml.safe_load(path.read_text())
    data.update(change)
    path.write_text(yaml.safe_dump(data))


def _break_syntax(root: Path) -> None:
    path = root / "etc/accounts/rcc-aws.yaml"
    path.write_text("vendor: aws\nnodes: {c1: 2\n")


def _unknown_key(root: Path) -> None:
    _edit(root / "etc/accounts/rcc-aws.yaml", {"colour": "red"})


def _type_without_price(root: Path) -> None:
    path = root / "etc/cloud.yaml"
    data = yaml.safe_load(path.read_text())
    del data["aws"]["node_types"]["c1"]["price"]
    path.write_text(yaml.safe_dump(data))


def _negative_price(root: Path) -> None:
    path = root / "etc/cloud.yaml"
    data = yaml.safe_load(path.read_text())
    data["local"]["node_types"]["c1"]["price"] = -1
    path.write_text(yaml.safe_dump(data))


def _vendor_without_section(root: Path) -> None:
    path = root / "etc/cloud.yaml"
    data = yaml.safe_load(path.read_text())
    del data["azure"]
    path.write_text(yaml.safe_dump(data))


def _duplicate_name(root: Path) -> None:
    text = (root / "etc/accounts/demo-local.yaml").read_text()
    (root / "etc/accounts/zz-copy.yaml").write_text(text + "name: demo-local\n")


def _upper_case_name(root: Path) -> None:
    text = (root / "etc/accounts/demo-local.yaml").read_text()
    (root / "etc/accounts/Demo.yaml").write_text(text)


def _shell_user(root: Path) -> None:
    _edit(root / "etc/accounts/rcc-aws.yaml", {"users": ["alice", "$(rm)"]})


def _readable_key(root: Path) -> None:
    key = root / "id_skyway"
    key.write_text("-----BEGIN KEY-----\n")
    os.chmod(key, 0o644)
    path = root / "etc/cloud.yaml"
    data = yaml.safe_load(path.read_text())
    data["aws"]["key_file"] = str(key)
    path.write_text(yaml.safe_dump(data))


def _unknown_node_type(root: Path) -> None:
    _edit(root / "etc/accounts/demo-local.yaml", {"nodes": {"x9": 1}})


def _bad_settings(root: Path) -> None:
    (root / "etc/skyway.yaml").write_text("terraform: {engine: magic}\n")


BROKEN = {
    "yaml syntax": (_break_syntax, "rcc-aws.yaml", "line 3", "YAML syntax"),
    "unknown key": (_unknown_key, "rcc-aws.yaml", "colour", "unknown key"),
    "no price": (_type_without_price, "cloud.yaml", "c1.price", "missing"),
    "negative price": (_negative_price, "cloud.yaml", "price", "-1"),
    "vendor section": (
        _vendor_without_section,
        "rcc-azure.yaml",
        "vendor",
        "no section in cloud.yaml",
    ),
    "duplicate": (_duplicate_name, "zz-copy.yaml", "name", "already"),
    "upper case": (_upper_case_name, "Demo.yaml", "name", "invalid account"),
    "shell user": (_shell_user, "rcc-aws.yaml", "users.1", "invalid user"),
    "readable key": (
        _readable_key,
        "cloud.yaml",
        "key_file",
        "readable by other users",
    ),
    "unknown type": (_unknown_node_type, "demo-local.yaml", "x9", "c1, c2"),
    "bad settings": (_bad_settings, "skyway.yaml", "engine", "bundled"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_configuration_is_one_line_exit_2(
    case: str, cli: Cli, root: Path
) -> None:
    breaker, file, key, expected = BROKEN[case]
    breaker(root)

    result = cli("misc.db_test")

    assert result.code == 2
    assert result.out == ""
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert file in lines[0] and key in lines[0] and expected in lines[0]
    assert "Traceback" not in result.err
    assert not (root / "state" / "skyway.db").exists()


def test_unknown_key_lists_the_valid_ones(cli: Cli, root: Path) -> None:
    _unknown_key(root)

    result = cli("cloud")

    assert "expected one of:" in result.err
    assert "users" in result.err and "vendor" in result.err


def test_debug_shows_the_traceback(
    cli: Cli, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _unknown_key(root)
    monkeypatch.setenv("SKYWAY_DEBUG", "1")

    with pytest.raises(ConfigError):
        cli("cloud")


def test_private_key_file_is_accepted(root: Path) -> None:
    key = root / "id_skyway"
    key.write_text("-----BEGIN KEY-----\n")
    os.chmod(key, 0o600)
    path = root / "etc/cloud.yaml"
    data = yaml.safe_load(path.read_text())
    data["aws"]["key_file"] = str(key)
    path.write_text(yaml.safe_dump(data))

    assert config.load(root).vendors["aws"].key_file == key
