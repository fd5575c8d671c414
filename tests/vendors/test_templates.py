"""Cloud workspaces: rendered text, Terraform's parser and `fmt -check`.

The AWS, GCP and Azure providers cannot be installed here, so their
templates are checked without them: the rendered text of the example
accounts against expected files, the bundled Terraform's configuration
loader, and `terraform fmt -check`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from skyway import config as configuration
from skyway import vendors
from skyway.errors import ConfigError
from skyway.terraform import check, render
from skyway.terraform.workspace import Workspace
from tests.terraform.helpers import set_settings

EXPECTED = Path(__file__).with_name("expected")
CLOUD_ACCOUNTS = ["rcc-aws", "rcc-gcp", "rcc-azure"]


def rendered(root: Path, name: str) -> dict[str, str]:
    config = configuration.load(root)
    account = config.account(name)
    context = vendors.get(account.vendor).template_context(config, account)
    return render.render(config, account, context)


@pytest.mark.parametrize("name", CLOUD_ACCOUNTS)
def test_rendered_text_matches_the_expected_files(
    root: Path, name: str
) -> None:
    files = rendered(root, name)

    for path in sorted((EXPECTED / name).iterdir()):
        assert files[path.name] == path.read_text(), path.name
    assert "modules/node/main.tf" in files


@pytest.mark.parametrize("name", CLOUD_ACCOUNTS)
def test_every_instance_is_tagged(root: Path, name: str) -> None:
    files = rendered(root, name)
    module = files["modules/node/main.tf"]

    for key in ("node", "node_type", "jobs", "user"):
        assert re.search(rf"\n +{key} += ", module), key
    assert f'account = "{name}"' in files["main.tf"]
    assert "tags   " in files["main.tf"] or "labels " in files["main.tf"]


@pytest.mark.parametrize("name", [*CLOUD_ACCOUNTS, "demo-local"])
def test_workspace_parses_and_is_formatted(
    root: Path, name: str, tmp_path: Path
) -> None:
    config = configuration.load(root)
    account = config.account(name)
    check.render_and_parse(config, account)
    workspace = Workspace(config, account)
    render.write(tmp_path / "ws", workspace.files())

    outcome = workspace.engine.run(
        tmp_path / "ws", "fmt", ["-check", "-recursive", "-no-color"]
    )

    assert outcome.returncode == 0, outcome.stdout + outcome.stderr


def test_a_syntax_error_is_reported_with_file_and_line(
    tmp_path: Path,
) -> None:
    (tmp_path / "main.tf").write_text("locals {\n  a = \n}\n")

    with pytest.raises(ConfigError) as caught:
        check.parse(tmp_path)

    assert "main.tf: line 2" in str(caught.value)


def test_backend_gets_a_key_per_account(root: Path, tmp_path: Path) -> None:
    backend = {"type": "s3", "config": {"bucket": "tfstate"}}
    set_settings(root, terraform={"backend": backend})
    config = configuration.load(root)
    workspace = Workspace(config, config.account("rcc-aws"))

    files = workspace.files()
    render.write(tmp_path, files)
    outcome = workspace.engine.run(tmp_path, "fmt", ["-check", "-no-color"])

    assert '  backend "s3" {\n    bucket = "tfstate"\n' in files["main.tf"]
    assert 'key    = "skyway/rcc-aws.tfstate"' in files["main.tf"]
    assert outcome.returncode == 0, outcome.stdout


def test_values_from_configuration_cannot_inject_hcl() -> None:
    assert render.hcl_value('${file("/etc/shadow")}') == (
        '"$${file(\\"/etc/shadow\\")}"'
    )
    assert render.hcl_value("%{ if x }") == '"%%{ if x }"'
    assert render.hcl_value(None) == "null"
    assert render.hcl_value({"a": [1, True]}) == '{ "a" = [1, true] }'
