"""Fake Azure Resource Manager: Cost Management's query API.

Answers `POST {scope}/providers/Microsoft.CostManagement/query` as
azure-mgmt-costmanagement expects it, `page` rows at a time: a longer
answer names its next page in `nextLink` (a `$skiptoken` on the same
URL), as the service does.
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
        self.page = 1000
        api.route(
            "POST",
            r"/subscriptions/[^/]+(/resourceGroups/[^/]+)?"
            r"/providers/Microsoft\.CostManagement/query",
            self._query,
        )

    def _query(self, request: Seen) -> Answer:
        scope = request.path.split("/providers/")[0].lstrip("/")
        start = int(request.query.get("$skiptoken", ["0"])[0])
        end = start + self.page
        next_link = None
        if end < len(self.rows):
            version = request.query["api-version"][0]
            next_link = (
                f"{self.api.url}{request.path}"
                f"?api-version={version}&$skiptoken={end}"
            )
        return 200, {
            "id": f"{scope}/providers/Microsoft.CostManagement/query/q1",
            "name": "q1",
            "type": "Microsoft.CostManagement/query",
            "properties": {
                "nextLink": next_link,
                "columns": COLUMNS,
                "rows": self.rows[start:end],
            },
        }

    def queries(self) -> list[Any]:
        return [s for s in self.api.seen if s.path.endswith("/query")]
