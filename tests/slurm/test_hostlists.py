"""Hostlists in and out, and sorting their names into accounts."""

from __future__ import annotations

from pathlib import Path

import pytest

from skyway.errors import InputError
from skyway.slurm import hostlists, resume_file

LIMITS = {"rcc-aws": {"c1": 10, "g1": 2}, "rcc": {"c1": 3}}


def test_expand_and_compress_round_trip() -> None:
    nodes = hostlists.expand("rcc-aws-c1-[001-003,007],rcc-c1-001")

    assert nodes == [
        "rcc-aws-c1-001",
        "rcc-aws-c1-002",
        "rcc-aws-c1-003",
        "rcc-aws-c1-007",
        "rcc-c1-001",
    ]
    assert hostlists.compress(nodes) == "rcc-aws-c1-[001-003,007],rcc-c1-001"


def test_bad_hostlist_is_input_error() -> None:
    with pytest.raises(InputError, match="bad hostlist"):
        hostlists.expand("a-c1-[1-")


def test_longest_account_prefix_wins() -> None:
    grouping = hostlists.group_by_account(
        ["rcc-aws-c1-002", "rcc-c1-003"], LIMITS
    )

    assert grouping.by_account == {
        "rcc-aws": ["rcc-aws-c1-002"],
        "rcc": ["rcc-c1-003"],
    }
    assert grouping.refused == {}


@pytest.mark.parametrize(
    ("node", "why"),
    [
        ("rcc-aws-c1;reboot", "invalid node name"),
        ("../etc/passwd", "invalid node name"),
        ("other-c1-001", "no configured account"),
        ("rcc-aws-c9-001", "no node type 'c9'"),
        ("rcc-aws-c1-011", "beyond account rcc-aws's 10 c1 nodes"),
        ("rcc-c1-000", "beyond"),
    ],
)
def test_hostile_or_unknown_names_refused_rest_served(
    node: str, why: str
) -> None:
    grouping = hostlists.group_by_account(["rcc-aws-g1-001", node], LIMITS)

    assert grouping.by_account == {"rcc-aws": ["rcc-aws-g1-001"]}
    assert why in grouping.refused[node]


def test_resume_file_maps_nodes_to_jobs() -> None:
    data = {
        "all_nodes": "rcc-aws-c1-[001-003]",
        "jobs": [
            {"job_id": 7, "nodes": "rcc-aws-c1-[001-002]"},
            {"job_id": 9, "nodes_resume": "rcc-aws-c1-[002-003]"},
            {"job_id": "junk", "nodes": "x"},
            "junk",
        ],
    }

    assert resume_file.parse(data) == {
        "rcc-aws-c1-001": [7],
        "rcc-aws-c1-002": [7, 9],
        "rcc-aws-c1-003": [9],
    }


def test_missing_or_broken_resume_file_means_no_jobs(tmp_path: Path) -> None:
    broken = tmp_path / "resume.json"
    broken.write_text("{not json")

    assert resume_file.jobs_by_node(None) == {}
    assert resume_file.jobs_by_node(str(broken)) == {}
    assert resume_file.jobs_by_node(str(tmp_path / "missing")) == {}
