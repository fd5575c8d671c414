"""Render an account's Terraform workspace from the vendor's templates.

`templates/<vendor>/*.tf.j2` become the root module and
`terraform/<vendor>/` is copied in as `modules/node/`, so a workspace
is self-contained: an auditor reads exactly what Terraform ran. The
rendering is a pure function of the configuration; its hash is recorded
with every run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from skyway.config import Account, Config
from skyway.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = REPO / "templates"
MODULES = REPO / "terraform"
BACKEND_KEYS = {
    "pg": ("schema_name", "skyway_{account}"),
    "s3": ("key", "skyway/{account}.tfstate"),
    "gcs": ("prefix", "skyway/{account}"),
    "azurerm": ("key", "skyway-{account}.tfstate"),
}


def hcl_string(value: object) -> str:
    """A quoted HCL string; `${` and `%{` are escaped, never evaluated."""
    text = json.dumps(str(value), ensure_ascii=False)
    return text.replace("${", "$${").replace("%{", "%%{")


def hcl_value(value: object) -> str:
    """A literal HCL value: null, strings, numbers, booleans, lists, maps."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(hcl_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        items = ", ".join(
            f"{hcl_string(k)} = {hcl_value(v)}" for k, v in value.items()
        )
        return "{ " + items + " }" if items else "{}"
    return hcl_string(value)


_ENVIRONMENTS: dict[Path, jinja2.Environment] = {}


def _environment(folder: Path) -> jinja2.Environment:
    """One Jinja environment per template folder: templates compile once."""
    if folder in _ENVIRONMENTS:
        return _ENVIRONMENTS[folder]
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    environment.filters["hcl"] = hcl_value
    _ENVIRONMENTS[folder] = environment
    return environment


def backend(config: Config, account: Account) -> dict[str, Any]:
    """The state backend: type and settings, with a per-account key."""
    settings = config.settings.terraform.backend
    values: dict[str, str] = dict(settings.config)
    if settings.type in BACKEND_KEYS:
        key, pattern = BACKEND_KEYS[settings.type]
        default = pattern.format(account=account.name.replace("-", "_"))
        if settings.type != "pg":
            default = pattern.format(account=account.name)
        values.setdefault(key, default)
    width = max((len(key) for key in values), default=0)
    return {"type": settings.type, "config": values, "width": width}


def render(
    config: Config, account: Account, context: Mapping[str, Any]
) -> dict[str, str]:
    """Every file of the workspace, by relative path, as text."""
    folder = TEMPLATES / account.vendor
    if not folder.is_dir():
        raise ConfigError(
            str(folder), "", f"no templates for vendor {account.vendor!r}"
        )
    environment = _environment(folder)
    full = {
        "account": account,
        "backend": backend(config, account),
        **context,
    }
    files = {}
    for template in sorted(folder.glob("*.j2")):
        text = environment.get_template(template.name).render(full)
        files[template.name.removesuffix(".j2")] = text
    for module_file in sorted((MODULES / account.vendor).glob("*.tf")):
        files[f"modules/node/{module_file.name}"] = module_file.read_text()
    return files


def digest(files: Mapping[str, str]) -> str:
    """The template hash: one fingerprint of every rendered file."""
    sha = hashlib.sha256()
    for name in sorted(files):
        sha.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return sha.hexdigest()[:16]


def write(folder: Path, files: Mapping[str, str]) -> None:
    """Write the files, removing rendered .tf files that are gone."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in [*folder.glob("*.tf"), *folder.glob("modules/node/*.tf")]:
        if str(old.relative_to(folder)) not in files:
            old.unlink()
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
