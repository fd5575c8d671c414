"""The vendors Skyway can run nodes on, by name.

Adding a cloud means one module here, one template folder and one line
in `REGISTRY`, never another `if vendor == ...` elsewhere.
"""

from __future__ import annotations

import importlib

from skyway.errors import ConfigError
from skyway.vendors.base import Instance, Vendor

REGISTRY = {
    "aws": "skyway.vendors.aws:AwsVendor",
    "gcp": "skyway.vendors.gcp:GcpVendor",
    "azure": "skyway.vendors.azure:AzureVendor",
    "local": "skyway.vendors.local:LocalVendor",
}

__all__ = ["REGISTRY", "Instance", "Vendor", "get"]


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
