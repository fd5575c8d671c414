"""Names that reach Terraform, Slurm or a path are validated first."""

from __future__ import annotations

import pytest

from skyway import names
from skyway.errors import InputError

HOSTILE = ["a;b", "$(x)", "../x", "x" * 200, "Upper", "nöde", "", "a b"]


@pytest.mark.parametrize("name", HOSTILE)
@pytest.mark.parametrize("kind", ["account", "node", "user", "node type"])
def test_hostile_names_are_refused(kind: str, name: str) -> None:
    with pytest.raises(InputError):
        names.check(kind, name)


def test_good_names_pass() -> None:
    assert names.check("account", "rcc-aws") == "rcc-aws"
    assert names.check("user", "alice_01") == "alice_01"
    assert names.check("node type", "g1") == "g1"


def test_node_name_round_trip() -> None:
    name = names.node_name("rcc-aws", "c1", 3)

    assert name == "rcc-aws-c1-003"
    assert names.split_node(name, ["rcc-aws"]) == ("rcc-aws", "c1", 3)


def test_longest_account_prefix_wins() -> None:
    accounts = ["rcc", "rcc-aws"]

    assert names.split_node("rcc-aws-c1-001", accounts) == (
        "rcc-aws",
        "c1",
        1,
    )
    assert names.split_node("rcc-c8-002", accounts) == ("rcc", "c8", 2)


@pytest.mark.parametrize(
    "name", ["other-c1-001", "rcc-aws-c1", "rcc-aws-c1-x", "rcc-aws;c1-001"]
)
def test_unknown_node_names_do_not_split(name: str) -> None:
    assert names.split_node(name, ["rcc-aws"]) is None
