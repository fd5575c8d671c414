"""The vendors Skyway can run nodes on, by name.

Adding a cloud means one module here, one template folder and one line
in `REGISTRY`, never another `if vendor == ...` elsewhere. Importing this
package stays cheap (Terraform runs `skyway.vendors.local_node` for each
local node), so vendor modules load only when asked for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from skyway.errors import ConfigError

if TYPE_CHECKING:
    from skyway.vendors.base import Vendor

REGISTRY = {
    "aws": "skyway.vendors.aws:AwsVendor",
    "gcp": "skyway.vendors.gcp:GcpVendor",
    "azure": "skyway.vendors.azure:AzureVendor",
    "local": "skyway.vendors.local:LocalVendor",
}

__all__ = ["REGISTRY", "get"]


def get(name: str) -> Vendor:
    """The vendor called `name`, imported on first use."""
    try:
        module_name, class_name = REGISTRY[name].split(":")
    except KeyError:
        valid = ", ".join(sorted(REGISTRY))
        raise ConfigError(
            "cloud.yaml", name, f"unknown vendor; expected one of: {valid}"
        ) from None
    vendor_class = getattr(importlib.import_module(module_name), class_name)
    vendor: Vendor = vendor_class()
    return vendor
