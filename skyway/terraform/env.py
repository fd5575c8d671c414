"""The environment every Terraform call runs in, set in one place.

Terraform must never phone home, never prompt, and must read a CLI
configuration Skyway controls (an inherited `TF_CLI_CONFIG_FILE` may
point at a missing file). Providers are cached once per state folder.
"""

from __future__ import annotations

import os
from pathlib import Path

FIXED = {
    "CHECKPOINT_DISABLE": "1",
    "TF_IN_AUTOMATION": "1",
    "TF_INPUT": "0",
}
CLEARED = ("TF_WORKSPACE", "TF_LOG", "TF_DATA_DIR", "TF_CLI_ARGS")


def cli_config(state_dir: Path) -> Path:
    """Write (once) and return the CLI configuration file Skyway uses."""
    folder = state_dir / "terraform"
    cache = folder / "plugin-cache"
    cache.mkdir(parents=True, exist_ok=True)
    path = folder / "terraform.rc"
    text = f'plugin_cache_dir = "{cache}"\n'
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


def environment(state_dir: Path) -> dict[str, str]:
    """The variables to set for Terraform; `CLEARED` ones are removed."""
    return {**FIXED, "TF_CLI_CONFIG_FILE": str(cli_config(state_dir))}


def apply(state_dir: Path) -> None:
    """Put Terraform's environment into this process's own environment.

    The bundled engine runs inside this process and reads its
    environment once, when the library loads: call this before that.
    """
    for name in CLEARED:
        os.environ.pop(name, None)
    os.environ.update(environment(state_dir))
