"""GCP: Compute Engine instances through Terraform; checks through REST.

Credentials are checked with the Cloud Billing client (the project's
billing info); instances are listed and deleted through the Compute
Engine REST API. `SKYWAY_GCP_BILLING_ENDPOINT` and
`SKYWAY_GCP_COMPUTE_ENDPOINT` point them elsewhere (tests); there, with
no credentials file configured, they connect anonymously.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from skyway.config import Account, Config, GcpIds
from skyway.errors import CommandError, ConfigError, NotFoundError
from skyway.vendors.base import Instance, Vendor, missing_sdk

log = logging.getLogger(__name__)
BILLING_VAR = "SKYWAY_GCP_BILLING_ENDPOINT"
COMPUTE_VAR = "SKYWAY_GCP_COMPUTE_ENDPOINT"
COMPUTE = "https://compute.googleapis.com"


def _ids(account: Account) -> GcpIds:
    ids = account.ids
    if not isinstance(ids, GcpIds):
        raise ConfigError(account.name, "gcp", "not a GCP account")
    return ids


def credentials(account: Account, endpoint: str | None) -> Any:
    """A key file's service account, anonymous for a test endpoint, or ADC."""
    ids = _ids(account)
    try:
        import google.auth
    except ImportError:
        raise missing_sdk("gcp", "google-auth") from None
    if ids.credentials and ids.credentials.file:
        from google.oauth2 import service_account

        return service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
            str(ids.credentials.file),
            scopes=["https://www.googleapis.com/auth/cloud-platform"],
        )
    if endpoint:
        from google.auth.credentials import AnonymousCredentials

        return AnonymousCredentials()  # type: ignore[no-untyped-call]
    return google.auth.default()[0]


class GcpVendor(Vendor):
    name = "gcp"
    node_resources = ("google_compute_instance.node",)

    def check_credentials(self, config: Config, account: Account) -> str:
        try:
            from google.api_core.client_options import ClientOptions
            from google.cloud import billing_v1
        except ImportError:
            raise missing_sdk("gcp", "google-cloud-billing") from None
        ids = _ids(account)
        endpoint = os.environ.get(BILLING_VAR) or None
        client = billing_v1.CloudBillingClient(
            transport="rest",
            credentials=credentials(account, endpoint),
            client_options=ClientOptions(api_endpoint=endpoint),
        )
        info = client.get_project_billing_info(name=f"projects/{ids.project}")
        state = "enabled" if info.billing_enabled else "DISABLED"
        return (
            f"project {ids.project}, billing account "
            f"{info.billing_account_name or '-'} ({state})"
        )

    def list_instances(
        self, config: Config, account: Account
    ) -> list[Instance]:
        body = self._call(account, "GET", "")
        return [_instance(item) for item in body.get("items", [])]

    def terminate(
        self, config: Config, account: Account, instance_id: str
    ) -> None:
        for instance in self.list_instances(config, account):
            if instance_id in (instance.id, instance.node):
                self._call(account, "DELETE", f"/{instance.node}")
                log.info("deleted %s in %s", instance.node, account.name)
                return
        raise NotFoundError(f"no instance {instance_id!r} in {account.name}")

    def _call(self, account: Account, method: str, path: str) -> Any:
        from google.auth.transport.requests import AuthorizedSession

        ids = _ids(account)
        endpoint = os.environ.get(COMPUTE_VAR) or None
        base = (endpoint or COMPUTE).rstrip("/")
        url = (
            f"{base}/compute/v1/projects/{ids.project}/zones/{ids.zone}"
            f"/instances{path}"
        )
        http = AuthorizedSession(credentials(account, endpoint))  # type: ignore[no-untyped-call]
        response = http.request(method, url, timeout=30)  # type: ignore[no-untyped-call]
        if response.status_code >= 400:
            raise CommandError(
                [method, url], response.status_code, response.text[:500]
            )
        return response.json()


def _instance(item: dict[str, Any]) -> Instance:
    labels = item.get("labels") or {}
    interfaces = item.get("networkInterfaces") or [{}]
    return Instance(
        id=str(item.get("id", "")),
        node=str(item.get("name", "")),
        state=str(item.get("status", "")).lower(),
        address=str(interfaces[0].get("networkIP", "")),
        node_type=str(labels.get("node_type", "")),
    )
