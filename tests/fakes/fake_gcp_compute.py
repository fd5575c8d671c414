"""GCP Cloud Billing and Compute Engine REST APIs, as Skyway uses them."""

from __future__ import annotations

import re
from typing import Any

from tests.fakes.fake_cloud import FakeCloud, Request

PROJECT = r"(?P<project>[a-z][a-z0-9-]+)"


def gcp(instances: list[dict[str, Any]]) -> FakeCloud:
    """A fake holding `instances` (Compute Engine JSON) of one zone."""
    fake = FakeCloud()

    def billing(_: Request, match: re.Match[str]) -> tuple[int, Any]:
        project = match["project"]
        return 200, {
            "name": f"projects/{project}/billingInfo",
            "projectId": project,
            "billingAccountName": "billingAccounts/000000-AAAAAA-BBBBBB",
            "billingEnabled": True,
        }

    def listing(_: Request, __: re.Match[str]) -> tuple[int, Any]:
        return 200, {"kind": "compute#instanceList", "items": instances}

    def delete(_: Request, match: re.Match[str]) -> tuple[int, Any]:
        instances[:] = [i for i in instances if i["name"] != match["name"]]
        return 200, {"kind": "compute#operation", "status": "RUNNING"}

    fake.route("GET", rf"/v1/projects/{PROJECT}/billingInfo", billing)
    zone = rf"/compute/v1/projects/{PROJECT}/zones/[a-z0-9-]+/instances"
    fake.route("GET", zone, listing)
    fake.route("DELETE", zone + r"/(?P<name>[a-z0-9-]+)", delete)
    return fake


def instance(name: str, ident: str, address: str, **labels: str) -> Any:
    """One Compute Engine instance as the API returns it."""
    return {
        "kind": "compute#instance",
        "id": ident,
        "name": name,
        "status": "RUNNING",
        "labels": labels,
        "networkInterfaces": [{"networkIP": address}],
    }
