"""Fake GCP APIs: the Cloud Billing catalog and BigQuery's jobs.query.

Answers in the services' REST wire format, as google-cloud-billing
(REST transport) and google-cloud-bigquery expect it.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.billing_server import Answer, FakeApi, Seen

COMPUTE = "6F81-5844-456A"


def sku(
    description: str, region: str, units: str, nanos: int
) -> dict[str, Any]:
    return {
        "name": f"services/{COMPUTE}/skus/{abs(hash(description)) % 10**8}",
        "skuId": f"{abs(hash(description)) % 10**8}",
        "description": description,
        "category": {
            "serviceDisplayName": "Compute Engine",
            "resourceFamily": "Compute",
            "resourceGroup": "CPU",
            "usageType": "OnDemand",
        },
        "serviceRegions": [region],
        "pricingInfo": [
            {
                "effectiveTime": "2026-11-01T00:00:00Z",
                "pricingExpression": {
                    "usageUnit": "h",
                    "baseUnit": "s",
                    "baseUnitConversionFactor": 3600,
                    "displayQuantity": 1,
                    "tieredRates": [
                        {
                            "startUsageAmount": 0,
                            "unitPrice": {
                                "currencyCode": "USD",
                                "units": units,
                                "nanos": nanos,
                            },
                        }
                    ],
                },
                "currencyConversionRate": 1,
            }
        ],
        "serviceProviderName": "Google",
    }


SKUS = [
    sku("N2 Instance Core running in Americas", "us-central1", "0", 31611000),
    sku("N2 Instance Ram running in Americas", "us-central1", "0", 4237000),
    sku("E2 Instance Core running in Americas", "us-central1", "0", 21811590),
    sku("E2 Instance Ram running in Americas", "us-central1", "0", 2923530),
    sku("N2 Instance Core running in Frankfurt", "europe-west3", "0", 1),
]

FIELDS = [
    {"name": "day", "type": "DATE", "mode": "NULLABLE"},
    {"name": "label", "type": "STRING", "mode": "NULLABLE"},
    {"name": "amount", "type": "FLOAT", "mode": "NULLABLE"},
    {"name": "currency", "type": "STRING", "mode": "NULLABLE"},
]


class GcpBilling:
    """The fake's state: SKUs to list and export rows to return."""

    def __init__(self, api: FakeApi) -> None:
        self.api = api
        self.rows: list[tuple[str, str, float, str]] = []
        api.route("GET", rf"/v1/services/{COMPUTE}/skus", self._skus)
        api.route("POST", r"/bigquery/v2/projects/([^/]+)/queries", self._query)

    def _skus(self, request: Seen) -> Answer:
        return 200, {"skus": SKUS, "nextPageToken": ""}

    def _query(self, request: Seen) -> Answer:
        project = request.path.split("/")[4]
        return 200, {
            "kind": "bigquery#queryResponse",
            "schema": {"fields": FIELDS},
            "jobReference": {
                "projectId": project,
                "jobId": f"job_{len(self.api.seen)}",
                "location": "US",
            },
            "totalRows": str(len(self.rows)),
            "rows": [
                {"f": [{"v": str(value)} for value in row]} for row in self.rows
            ],
            "jobComplete": True,
            "cacheHit": False,
        }

    def queries(self) -> list[dict[str, Any]]:
        return [
            seen.json()
            for seen in self.api.seen
            if seen.path.endswith("/queries") and seen.method == "POST"
        ]
