"""The local vendor: nodes on the management host itself.

Its Terraform module creates `terraform_data` resources whose
provisioners run `skyway.vendors.local_node`; Skyway assigns each node
an address in the account's `local.network`. What the vendor "sees" is
the Terraform state of the account's workspaces, plus the node records
on the host that no state holds (orphans of a killed worker), listed
with an `orphan:` id so that they can be terminated.
"""

from __future__ import annotations

import sys
from typing import Any

from skyway import names
from skyway.config import Account, Config, LocalIds
from skyway.errors import NotFoundError
from skyway.vendors.base import Instance, Vendor

ORPHAN = "orphan:"


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
        from skyway.vendors import local_node

        booted = local_node.records(config.state_dir)
        workspace = Workspace(config, account)
        found = []
        if (workspace.path / ".terraform").is_dir():
            for name in workspace.workspaces:
                for node, entry in workspace.state_nodes(name).items():
                    found.append(_from_state(node, entry, node in booted))
        return found + self._orphans(config, account, found)

    def _orphans(
        self, config: Config, account: Account, known: list[Instance]
    ) -> list[Instance]:
        from skyway.vendors import local_node

        in_state = {instance.node for instance in known}
        orphans = []
        for node, record in local_node.records(config.state_dir).items():
            split = names.split_node(node, config.accounts)
            if node in in_state or split is None or split[0] != account.name:
                continue
            orphans.append(
                Instance(
                    id=f"{ORPHAN}{node}",
                    node=node,
                    state="orphan",
                    address=str(record.get("address", "")),
                    node_type=split[1],
                )
            )
        return orphans

    def terminate(
        self, config: Config, account: Account, instance_id: str
    ) -> None:
        from skyway.terraform.workspace import Workspace, targets_of

        if instance_id.startswith(ORPHAN):
            from skyway.vendors import local_node

            node = names.check("node", instance_id.removeprefix(ORPHAN))
            local_node.stop(config, account.name, node)
            return
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


def _from_state(node: str, entry: dict[str, Any], booted: bool) -> Instance:
    """A node in Terraform state; `missing` when the host has no record.

    A missing one is a boot whose provisioner died with its worker, or a
    node stopped by hand: Terraform holds it, but nothing runs.
    """
    output = entry["values"].get("output") or {}
    if entry["tainted"]:
        state = "tainted"
    else:
        state = "running" if booted else "missing"
    return Instance(
        id=entry["id"],
        node=node,
        state=state,
        address=str(output.get("address", "")),
        node_type=str(output.get("node_type", "")),
    )
