"""Azure: virtual machines through Terraform; checks through ARM.

Credentials are checked and virtual machines listed or deleted with the
Azure SDK's ARM pipeline (the Cost Management client's, so no other SDK
is needed). `SKYWAY_AZURE_ARM_ENDPOINT` points it elsewhere (tests); the
certificate of that endpoint is checked against `REQUESTS_CA_BUNDLE`
when set. The account's `credentials` (env or file) hold a bearer token;
without them `azure-identity` must be installed.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from skyway.config import Account, AzureIds, Config
from skyway.errors import CommandError, ConfigError, NotFoundError
from skyway.vendors.base import Instance, Vendor, missing_sdk

log = logging.getLogger(__name__)
ARM_VAR = "SKYWAY_AZURE_ARM_ENDPOINT"
ARM = "https://management.azure.com"
SUBSCRIPTION_API = "2022-12-01"
COMPUTE_API = "2024-07-01"
TOKEN_LIFE = 3000


def azure_ids(account: Account) -> AzureIds:
    ids = account.ids
    if not isinstance(ids, AzureIds):
        raise ConfigError(account.name, "azure", "not an Azure account")
    return ids


class TokenCredential:
    """A bearer token from the account's credentials reference."""

    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken(self._token, int(time.time()) + TOKEN_LIFE)

    def get_token_info(self, *scopes: str, options: Any = None) -> Any:
        from azure.core.credentials import AccessTokenInfo

        return AccessTokenInfo(self._token, int(time.time()) + TOKEN_LIFE)


def credential(account: Account) -> Any:
    ref = azure_ids(account).credentials
    if ref is not None and ref.env:
        token = os.environ.get(ref.env)
        if not token:
            raise ConfigError(
                f"accounts/{account.name}.yaml",
                "azure.credentials.env",
                f"{ref.env} is not set",
            )
        return TokenCredential(token.strip())
    if ref is not None and ref.file:
        return TokenCredential(Path(ref.file).read_text().strip())
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError:
        raise missing_sdk("azure", "azure-identity") from None
    return DefaultAzureCredential()


def client(account: Account) -> Any:
    try:
        from azure.mgmt.costmanagement import CostManagementClient
    except ImportError:
        raise missing_sdk("azure", "azure-mgmt-costmanagement") from None
    options: dict[str, Any] = {}
    bundle = os.environ.get("REQUESTS_CA_BUNDLE")
    if bundle:
        options["connection_verify"] = bundle
    return CostManagementClient(
        credential(account),
        base_url=os.environ.get(ARM_VAR) or ARM,
        retry_total=0,
        **options,
    )


def call(account: Account, method: str, path: str, api: str) -> Any:
    """One ARM request; CommandError with the response when it fails."""
    from azure.core.rest import HttpRequest

    request = HttpRequest(method, path, params={"api-version": api})
    response = client(account).send_request(request)
    if response.status_code >= 400:
        raise CommandError(
            [method, path], response.status_code, response.text()[:500]
        )
    return response.json() if response.text() else {}


class AzureVendor(Vendor):
    name = "azure"
    node_resources = (
        "azurerm_linux_virtual_machine.node",
        "azurerm_network_interface.node",
    )

    def template_context(
        self, config: Config, account: Account
    ) -> dict[str, Any]:
        key_file = config.vendors["azure"].key_file
        public = Path(f"{key_file}.pub") if key_file else None
        key = public.read_text().strip() if public and public.exists() else ""
        return {**super().template_context(config, account), "public_key": key}

    def check_credentials(self, config: Config, account: Account) -> str:
        ids = azure_ids(account)
        path = f"/subscriptions/{ids.subscription}"
        body = call(account, "GET", path, SUBSCRIPTION_API)
        return (
            f"subscription {body.get('subscriptionId', ids.subscription)} "
            f"{body.get('displayName', '')!r} ({body.get('state', '?')})"
        )

    def list_instances(
        self, config: Config, account: Account
    ) -> list[Instance]:
        body = call(account, "GET", self._machines(account), COMPUTE_API)
        return [_instance(item) for item in body.get("value", [])]

    def terminate(
        self, config: Config, account: Account, instance_id: str
    ) -> None:
        for instance in self.list_instances(config, account):
            if instance_id in (instance.id, instance.node):
                path = f"{self._machines(account)}/{instance.node}"
                call(account, "DELETE", path, COMPUTE_API)
                log.info("deleted %s in %s", instance.node, account.name)
                return
        raise NotFoundError(f"no instance {instance_id!r} in {account.name}")

    def _machines(self, account: Account) -> str:
        ids = azure_ids(account)
        return (
            f"/subscriptions/{ids.subscription}/resourceGroups/"
            f"{ids.resource_group}/providers/Microsoft.Compute/virtualMachines"
        )


def _instance(item: dict[str, Any]) -> Instance:
    tags = item.get("tags") or {}
    properties = item.get("properties") or {}
    return Instance(
        id=str(properties.get("vmId") or item.get("id", "")),
        node=str(item.get("name", "")),
        state=str(properties.get("provisioningState", "")).lower(),
        node_type=str(tags.get("node_type", "")),
    )
