"""Azure Resource Manager, as far as Skyway uses it: subscriptions, VMs."""

from __future__ import annotations

import re
from typing import Any

from tests.fakes.fake_cloud import FakeCloud, Request

SUB = r"/subscriptions/(?P<sub>[0-9a-f-]{36})"


def arm(machines: list[dict[str, Any]]) -> FakeCloud:
    """A fake ARM holding `machines` in one resource group."""
    fake = FakeCloud()

    def subscription(_: Request, match: re.Match[str]) -> tuple[int, Any]:
        return 200, {
            "id": f"/subscriptions/{match['sub']}",
            "subscriptionId": match["sub"],
            "displayName": "RCC research",
            "state": "Enabled",
        }

    def listing(_: Request, __: re.Match[str]) -> tuple[int, Any]:
        return 200, {"value": machines}

    def delete(_: Request, match: re.Match[str]) -> tuple[int, Any]:
        machines[:] = [m for m in machines if m["name"] != match["name"]]
        return 202, {}

    machines_path = (
        SUB + r"/resourceGroups/[^/]+/providers/Microsoft\.Compute"
        r"/virtualMachines"
    )
    fake.route("GET", SUB, subscription)
    fake.route("GET", machines_path, listing)
    fake.route("DELETE", machines_path + r"/(?P<name>[a-z0-9-]+)", delete)
    return fake


def machine(name: str, vm_id: str, **tags: str) -> Any:
    """One virtual machine as ARM returns it."""
    return {
        "name": name,
        "id": f"/subscriptions/x/virtualMachines/{name}",
        "tags": tags,
        "properties": {"vmId": vm_id, "provisioningState": "Succeeded"},
    }
