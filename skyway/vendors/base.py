"""What every vendor provides, so the engine never asks which one it is.

A vendor renders its workspace (the context its templates need), checks
that its credentials work, lists the instances it sees and terminates
one that Skyway does not manage. SDKs are imported inside the methods,
so importing a vendor costs nothing until it is used.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from skyway.config import Account, Config
from skyway.errors import ConfigError


@dataclass(frozen=True)
class Instance:
    """An instance as the vendor sees it."""

    id: str
    node: str
    state: str
    address: str = ""
    node_type: str = ""


class Vendor(ABC):
    """One cloud (or the local host), registered by name."""

    name: str = ""
    #: Skyway picks node addresses itself (the local vendor) instead of
    #: reading them back from the cloud after the apply.
    assigns_addresses = False
    #: The Terraform resources of one node inside modules/node, the
    #: instance first: a targeted run names all of them.
    node_resources: tuple[str, ...] = ()

    def template_context(
        self, config: Config, account: Account
    ) -> dict[str, Any]:
        """What templates/<vendor>/ needs beside the account itself."""
        settings = config.vendors[account.vendor]
        return {
            "ids": account.ids,
            "image": settings.image or "",
            "login_user": settings.login_user,
            "instance_types": {
                name: node_type.instance
                for name, node_type in sorted(settings.node_types.items())
                if name in account.nodes
            },
        }

    @abstractmethod
    def check_credentials(self, config: Config, account: Account) -> str:
        """Prove the credentials work; return who they are."""

    @abstractmethod
    def list_instances(
        self, config: Config, account: Account
    ) -> list[Instance]:
        """Every instance of the account, managed by Skyway or not."""

    @abstractmethod
    def terminate(
        self, config: Config, account: Account, instance_id: str
    ) -> None:
        """Terminate an instance that Skyway does not manage."""


def missing_sdk(vendor: str, module: str) -> ConfigError:
    """The error for a vendor whose SDK is not installed."""
    return ConfigError(
        "python",
        module,
        f"the {vendor} SDK is not installed; "
        f'run: pip install "skyway[{vendor}]"',
    )
