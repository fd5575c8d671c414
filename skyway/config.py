"""Typed configuration of a Skyway root, loaded from its etc/ folder.

A root holds `etc/skyway.yaml` (site settings, all optional),
`etc/cloud.yaml` (one section per vendor: node types, image, login user),
`etc/accounts/*.yaml` (one cloud account each) and `etc/services/*.yaml`.
Runtime data lives in the state folder, `<root>/state` unless set.

Every problem is reported as one `ConfigError` naming the file, the key
and what was expected, before anything is written anywhere.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from collections.abc import Mapping
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, get_args

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from skyway import names
from skyway.errors import ConfigError

VENDORS = ("aws", "gcp", "azure", "local")
Vendor = Literal["aws", "gcp", "azure", "local"]
DEFAULT_ROOT = "/opt/skyway"
M = TypeVar("M", bound="Model")
# libyaml's safe loader when PyYAML has it: a tenth of the parse time.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _named(kind: str) -> Any:
    def check(value: str) -> str:
        message = names.problem(kind, value)
        if message:
            raise ValueError(message)
        return value

    return AfterValidator(check)


AccountName = Annotated[str, _named("account")]
NodeTypeName = Annotated[str, _named("node type")]
UserName = Annotated[str, _named("user")]
NodeName = Annotated[str, _named("node")]
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=6)]


class Model(BaseModel):
    """Base of every configuration model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretRef(Model):
    """Where a credential is found; the secret itself is never inline."""

    profile: str | None = None
    env: str | None = None
    file: Path | None = None

    @model_validator(mode="after")
    def _one_source(self) -> SecretRef:
        given = [k for k in ("profile", "env", "file") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("expected exactly one of profile, env or file")
        if self.file is not None:
            check_key_file(self.file)
        return self


def check_key_file(path: Path) -> None:
    """Refuse a missing key file or one that other users can read."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ValueError(f"key file {path} cannot be read: {exc}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ValueError(
            f"key file {path} is readable by other users "
            f"(mode {stat.S_IMODE(mode):o}); expected mode 600"
        )


def _key_file(value: Path | None) -> Path | None:
    if value is not None:
        check_key_file(value.expanduser())
        return value.expanduser()
    return None


KeyFile = Annotated[Path | None, AfterValidator(_key_file)]


class NodeType(Model):
    """One machine shape a vendor offers, with its hourly price."""

    instance: str = Field(min_length=1, max_length=64, pattern=r"^[\w.\-]+$")
    price: Money
    cores: int = Field(ge=1, le=4096)
    memory_gb: float = Field(gt=0, le=65536)
    gpus: int = Field(default=0, ge=0, le=64)
    gpu_type: str | None = Field(
        default=None, pattern=r"^[a-z0-9][a-z0-9_.\-]*$", max_length=32
    )

    @property
    def memory_mb(self) -> int:
        """Memory as Slurm's RealMemory wants it, leaving room for the OS."""
        return int(self.memory_gb * 1024 * 0.95)


class VendorSettings(Model):
    """What cloud.yaml says about one vendor."""

    node_types: dict[NodeTypeName, NodeType] = Field(min_length=1)
    image: str | None = None
    login_user: UserName = "skyway"
    key_file: KeyFile = None


class AwsIds(Model):
    account_id: str = Field(pattern=r"^\d{12}$")
    role: str | None = Field(default=None, pattern=r"^arn:aws[\w-]*:iam::")
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    security_groups: list[str] = Field(default_factory=list)
    subnet: str | None = None
    credentials: SecretRef | None = None


class GcpIds(Model):
    project: str = Field(pattern=r"^[a-z][a-z0-9\-]{4,28}[a-z0-9]$")
    zone: str = Field(pattern=r"^[a-z]+-[a-z]+\d+-[a-z]$")
    service_account: str | None = None
    network: str = "default"
    billing_account: str | None = None
    billing_table: str | None = None
    credentials: SecretRef | None = None

    @property
    def region(self) -> str:
        return self.zone.rsplit("-", 1)[0]


class AzureIds(Model):
    subscription: str = Field(pattern=r"^[0-9a-f\-]{36}$")
    tenant: str = Field(pattern=r"^[0-9a-f\-]{36}$")
    resource_group: str = Field(pattern=r"^[\w\-.()]{1,90}$")
    location: str = Field(pattern=r"^[a-z0-9]+$")
    subnet_id: str | None = None
    credentials: SecretRef | None = None


class LocalIds(Model):
    """The local vendor: nodes on the management host itself.

    In `record` mode a node is a record file; in `netns` mode it is a
    network namespace with its own address running its own slurmd.
    """

    network: str = Field(default="10.199.77.0/24")
    mode: Literal["record", "netns"] = "record"


class StaticNode(Model):
    """A node that always runs, such as a file server, for --connect."""

    address: str = Field(pattern=r"^[A-Za-z0-9.:\-]+$")
    login_user: UserName | None = None


class Budget(Model):
    amount: Money
    rate: Money
    start: dt.date


class Policy(Model):
    on_exceeded: Literal["hold", "cancel"] = "hold"


class Account(Model):
    """One cloud account as an admin describes it in accounts/NAME.yaml."""

    name: AccountName
    vendor: Vendor
    group: UserName
    description: str = ""
    aws: AwsIds | None = None
    gcp: GcpIds | None = None
    azure: AzureIds | None = None
    local: LocalIds | None = None
    nodes: dict[NodeTypeName, Annotated[int, Field(ge=0, le=999)]] = Field(
        min_length=1
    )
    static_nodes: dict[NodeName, StaticNode] = Field(default_factory=dict)
    users: list[UserName] = Field(default_factory=list)
    admins: list[str] = Field(default_factory=list)
    budget: Budget | None = None
    policy: Policy = Policy()

    @model_validator(mode="after")
    def _vendor_section(self) -> Account:
        others = [v for v in VENDORS if v != self.vendor and getattr(self, v)]
        if others:
            raise ValueError(
                f"section {others[0]!r} does not belong to vendor "
                f"{self.vendor!r}"
            )
        if self.vendor != "local" and getattr(self, self.vendor) is None:
            raise ValueError(
                f"vendor {self.vendor!r} needs a {self.vendor!r} section"
            )
        return self

    @property
    def ids(self) -> AwsIds | GcpIds | AzureIds | LocalIds:
        """The vendor's own identifiers of this account."""
        section = getattr(self, self.vendor)
        return section if section is not None else LocalIds()

    @property
    def cloud_id(self) -> str:
        """Account id, project or subscription: what the vendor calls it."""
        ids = self.ids
        if isinstance(ids, AwsIds):
            return ids.account_id
        if isinstance(ids, GcpIds):
            return ids.project
        if isinstance(ids, AzureIds):
            return ids.subscription
        return "local"

    @property
    def region(self) -> str:
        ids = self.ids
        if isinstance(ids, AwsIds | GcpIds):
            return ids.region
        if isinstance(ids, AzureIds):
            return ids.location
        return "local"


class Backend(Model):
    """Where Terraform keeps each account's state."""

    type: Literal["local", "pg", "s3", "gcs", "azurerm"] = "local"
    config: dict[str, str] = Field(default_factory=dict)


class TerraformSettings(Model):
    engine: Literal["bundled", "binary"] = "bundled"
    binary: Path | None = None
    backend: Backend = Backend()
    lock_timeout: int = Field(default=600, ge=0)
    # Days a run's folder (saved plan, its JSON, the log) is kept; the
    # run's row stays for good. None keeps the folders for good too.
    keep_run_files_days: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _binary_given(self) -> TerraformSettings:
        if self.engine == "binary" and self.binary is None:
            raise ValueError("engine 'binary' needs the path in 'binary'")
        return self


class MailSettings(Model):
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    sender: str = "skyway@localhost"
    admins: list[str] = Field(default_factory=list)
    starttls: bool = False
    username: str | None = None
    password: SecretRef | None = None
    timeout: float = Field(default=10, gt=0)


class SlurmSettings(Model):
    """Slurm side: the include file and the power-saving settings."""

    conf_include: Path | None = None
    bin_dir: Path | None = None
    suspend_time: int = Field(default=300, ge=1)
    suspend_timeout: int = Field(default=120, ge=1)
    resume_timeout: int = Field(default=600, ge=1)
    resume_rate: int = Field(default=0, ge=0)
    suspend_rate: int = Field(default=0, ge=0)
    static_nodes: list[NodeName] = Field(default_factory=list)
    placeholder_address: str = "127.0.0.1"
    reconfigure: bool = True


class Settings(Model):
    """Site settings from etc/skyway.yaml; every key has a default."""

    catalog_path: Path | None = None
    database_url: str | None = None
    database_password: SecretRef | None = None
    state_dir: Path | None = None
    terraform: TerraformSettings = TerraformSettings()
    mail: MailSettings = MailSettings()
    slurm: SlurmSettings = SlurmSettings()


class ServiceSettings(Model):
    """etc/services/NAME.yaml: how often a registered service runs."""

    interval: int = Field(default=60, ge=1)
    grace: int = Field(default=600, ge=0)
    enabled: bool = True


class Config:
    """Everything under one root, validated as a whole."""

    def __init__(
        self,
        root: Path,
        settings: Settings,
        vendors: Mapping[str, VendorSettings],
        accounts: Mapping[str, Account],
        services: Mapping[str, ServiceSettings],
    ) -> None:
        self.root = root
        self.settings = settings
        self.vendors = dict(vendors)
        self.accounts = dict(accounts)
        self.services = dict(services)

    @cached_property
    def state_dir(self) -> Path:
        configured = self.settings.state_dir
        if configured is None:
            return self.root / "state"
        return (
            configured if configured.is_absolute() else self.root / configured
        )

    @property
    def catalog_path(self) -> Path:
        """Where the catalog for the login-node commands is published."""
        return self.settings.catalog_path or self.state_dir / "catalog.json"

    @property
    def database_url(self) -> str:
        url = os.environ.get("SKYWAY_DB_URL") or self.settings.database_url
        if url:
            return url
        return f"sqlite:///{self.state_dir / 'skyway.db'}"

    def account(self, name: str) -> Account:
        """The account called `name`, or a NotFoundError listing them."""
        from skyway.errors import NotFoundError

        try:
            return self.accounts[name]
        except KeyError:
            valid = ", ".join(sorted(self.accounts)) or "none configured"
            raise NotFoundError(
                f"unknown account {name!r}; expected one of: {valid}"
            ) from None

    def node_type(self, account: Account, type_name: str) -> NodeType:
        """The node type `type_name` of an account's vendor."""
        from skyway.errors import NotFoundError

        if type_name not in account.nodes:
            valid = ", ".join(sorted(account.nodes))
            raise NotFoundError(
                f"unknown node type {type_name!r} for account "
                f"{account.name}; expected one of: {valid}"
            )
        return self.vendors[account.vendor].node_types[type_name]


def find_root(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The root from --root, else SKYWAY_ROOT, else the site default."""
    chosen = explicit or os.environ.get("SKYWAY_ROOT") or DEFAULT_ROOT
    root = Path(chosen).expanduser().resolve()
    if not (root / "etc").is_dir():
        raise ConfigError(
            str(root),
            "",
            "not a Skyway root: expected an etc/ folder with cloud.yaml "
            "(set SKYWAY_ROOT or pass --root)",
        )
    return root


def load(root: str | os.PathLike[str] | None = None) -> Config:
    """Load and validate every file under the root's etc/ folder."""
    root_path = find_root(root)
    etc = root_path / "etc"
    settings = _parse(etc / "skyway.yaml", Settings, required=False)
    vendors = _load_vendors(etc / "cloud.yaml")
    accounts = _load_accounts(etc / "accounts", vendors)
    services = {
        path.stem: _parse(path, ServiceSettings)
        for path in sorted((etc / "services").glob("*.yaml"))
    }
    return Config(root_path, settings, vendors, accounts, services)


def _load_vendors(path: Path) -> dict[str, VendorSettings]:
    data = read_yaml(path)
    vendors = {}
    for vendor, section in data.items():
        if vendor not in VENDORS:
            raise ConfigError(
                str(path),
                str(vendor),
                f"unknown vendor; expected one of: {', '.join(VENDORS)}",
            )
        vendors[vendor] = _validate(path, VendorSettings, section, vendor)
    return vendors


def _load_accounts(
    folder: Path, vendors: Mapping[str, VendorSettings]
) -> dict[str, Account]:
    accounts: dict[str, Account] = {}
    seen_in: dict[str, Path] = {}
    for path in sorted(folder.glob("*.yaml")):
        data = read_yaml(path)
        data.setdefault("name", path.stem)
        account = _validate(path, Account, data)
        if account.name in accounts:
            raise ConfigError(
                str(path),
                "name",
                f"account {account.name!r} is already defined in "
                f"{seen_in[account.name]}; expected unique names",
            )
        _check_against_vendor(path, account, vendors)
        accounts[account.name] = account
        seen_in[account.name] = path
    return accounts


def _check_against_vendor(
    path: Path, account: Account, vendors: Mapping[str, VendorSettings]
) -> None:
    vendor = vendors.get(account.vendor)
    if vendor is None:
        raise ConfigError(
            str(path),
            "vendor",
            f"vendor {account.vendor!r} has no section in cloud.yaml; "
            f"expected one of: {', '.join(sorted(vendors)) or 'none'}",
        )
    for type_name in account.nodes:
        if type_name not in vendor.node_types:
            raise ConfigError(
                str(path),
                f"nodes.{type_name}",
                f"node type not offered by {account.vendor} in cloud.yaml; "
                f"expected one of: {', '.join(sorted(vendor.node_types))}",
            )


def read_yaml(path: Path, required: bool = True) -> dict[str, Any]:
    """Read one YAML mapping, turning every failure into a ConfigError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if not required:
            return {}
        raise ConfigError(str(path), "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), "", f"cannot read: {exc}") from None
    try:
        data = yaml.load(text, Loader=_LOADER)  # safe: no Python objects
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = (
            f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        )
        raise ConfigError(
            str(path), where, f"YAML syntax error: {exc.problem}"
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), "", f"YAML error: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            str(path), "", f"expected a mapping, got {type(data).__name__}"
        )
    return data


def _parse(path: Path, model: type[M], required: bool = True) -> M:
    return _validate(path, model, read_yaml(path, required))


def _validate(path: Path, model: type[M], data: Any, prefix: str = "") -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _config_error(path, model, exc, prefix) from None


def _config_error(
    path: Path, model: type[Model], exc: ValidationError, prefix: str
) -> ConfigError:
    first = exc.errors()[0]
    loc = [str(part) for part in first["loc"]]
    key = ".".join([prefix, *loc] if prefix else loc)
    kind = first["type"]
    if kind == "extra_forbidden":
        known = _known_keys(model, first["loc"][:-1])
        problem = "unknown key"
        if known:
            problem += f"; expected one of: {', '.join(known)}"
    elif kind == "missing":
        problem = "required key is missing"
    else:
        problem = first["msg"].removeprefix("Value error, ")
        given = first.get("input")
        if kind not in ("model_type",) and not isinstance(given, dict):
            problem += f" (got {given!r})"
    more = exc.error_count() - 1
    if more:
        problem += f" (and {more} more problem{'s' if more > 1 else ''})"
    return ConfigError(str(path), key or "(top level)", problem)


def _known_keys(model: type[Model], loc: tuple[Any, ...]) -> list[str]:
    """The keys a model accepts at `loc`, for the unknown-key message."""
    current: Any = model
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
        else:
            args = [a for a in get_args(current) if a is not type(None)]
            current = args[-1] if args else None
        while get_args(current) and not (
            isinstance(current, type) and issubclass(current, BaseModel)
        ):
            inner = [a for a in get_args(current) if a is not type(None)]
            if len(inner) != 1:
                break
            current = inner[0]
    if isinstance(current, type) and issubclass(current, BaseModel):
        return sorted(current.model_fields)
    return []
