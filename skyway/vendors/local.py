"""The local vendor: nodes on the management host itself.

Its Terraform module creates `terraform_data` resources whose
provisioners run `skyway.vendors.local_node`; Skyway assigns each node
an address in the account's `local.network`. What the vendor "sees" is
the Terraform state of the account's workspaces.
"""

from __future__ import annotations

import sys
from typing import Any

from skyway.config import Account, Config, LocalIds
from skyway.errors import NotFoundError
from skyway.vendors.base import Instance, Vendor


def settings(account: Account) -> LocalIds:
    """The account's `local:` section, or its defaults."""
    return account.local or LocalIds()


class LocalVendor(Vendor):
    name = "local"
    assigns_addresses = True
    node_resources = ("terraform_data.instance",)

    def template_context(
        self, config: Config, account: Account
    ) -> dict[str, Any]:
        return {
            **super().template_context(config, account),
            "python": sys.executable,
            "root": str(config.root),
            "state_dir": str(config.state_dir),
            "mode": settings(account).mode,
        }

    def check_credentials(self, config: Config, account: Account) -> str:
        return f"local host, {settings(account).mode} mode: no credentials"

    def list_instances(
        self, config: Config, account: Account
    ) -> list[Instance]:
        from skyway.terraform.workspace import Workspace

        workspace = Workspace(config, account)
        if not (workspace.path / ".terraform").is_dir():
            return []
        found = []
        for name in workspace.workspaces:
            for node, entry in workspace.state_nodes(name).items():
                values = entry["values"]
                output = values.get("output") or {}
                found.append(
                    Instance(
                        id=entry["id"],
                        node=node,
                        state="tainted" if entry["tainted"] else "running",
                        address=str(output.get("address", "")),
                        node_type=str(output.get("node_type", "")),
                    )
                )
        return found

    def terminate(
        self, config: Config, account: Account, instance_id: str
    ) -> None:
        from skyway.terraform.workspace import Workspace, targets_of

        workspace = Workspace(config, account)
        for instance in self.list_instances(config, account):
            if instance.id != instance_id:
                continue
            name = workspace.workspace_of(instance.node)
            workspace.select(name)
            where = targets_of(self.node_resources, instance.node)
            workspace.run(
                "apply",
                ["-destroy", "-auto-approve", "-input=false", "-no-color"]
                + [f"-target={address}" for address in where],
            )
            return
        raise NotFoundError(
            f"no instance {instance_id!r} in the state of {account.name}"
        )
