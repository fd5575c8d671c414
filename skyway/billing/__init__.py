"""Billing: budgets, estimates, vendor costs, enforcement and reports.

Estimates come from the node map and the node journal times each node
type's price; actual costs come from each vendor's cost API and are kept
per day as cost records. Enforcement runs in the scale path (`admit`,
called by the resume hook) and in the billing service (`enforce.check`).
"""
