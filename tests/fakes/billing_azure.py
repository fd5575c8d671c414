"""Fake Azure Resource Manager: Cost Management's query API.

Answers `POST {scope}/providers/Microsoft.CostManagement/query` as
azure-mgmt-costmanagement expects it.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.billing_server import Answer, FakeApi, Seen

COLUMNS = [
    {"name": "PreTaxCost", "type": "Number"},
    {"name": "UsageDate", "type": "Number"},
    {"name": "TagKey", "type": "String"},
    {"name": "TagValue", "type": "String"},
    {"name": "Currency", "type": "String"},
]


class AzureCosts:
    """The fake's state: the rows the next queries return."""

    def __init__(self, api: FakeApi) -> None:
        self.api = api
        self.rows: list[list[Any]] = []
        api.route(
            "POST",
            r"/subscriptions/[^/]+(/resourceGroups/[^/]+)?"
            r"/providers/Microsoft\.CostManagement/query",
            self._query,
        )

    def _query(self, request: Seen) -> Answer:
        scope = request.path.split("/providers/")[0].lstrip("/")
        return 200, {
            "id": f"{scope}/providers/Microsoft.CostManagement/query/q1",
            "name": "q1",
            "type": "Microsoft.CostManagement/query",
            "properties": {
                "nextLink": None,
                "columns": COLUMNS,
                "rows": self.rows,
            },
        }

    def queries(self) -> list[Any]:
        return [s for s in self.api.seen if s.path.endswith("/query")]
