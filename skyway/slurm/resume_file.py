"""SLURM_RESUME_FILE: which jobs asked for which nodes.

slurmctld writes a JSON file for each ResumeProgram call, for instance
`{"all_nodes": "a-c1-[1-2]", "jobs": [{"job_id": 7, "nodes":
"a-c1-[1-2]"}]}` (Slurm 22.05; later releases call the keys
`all_nodes_resume` and `nodes_resume`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from skyway.errors import InputError
from skyway.slurm.hostlists import expand

log = logging.getLogger(__name__)
VAR = "SLURM_RESUME_FILE"


def jobs_by_node(path: str | None) -> dict[str, list[int]]:
    """`{node: [job ids]}` from a resume file; {} if there is none."""
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        log.warning("unreadable %s %s: %s", VAR, path, exc)
        return {}
    return parse(data)


def parse_text(text: str) -> dict[str, list[int]]:
    """The mapping out of the file's text; {} if empty or not JSON."""
    if not text.strip():
        return {}
    try:
        return parse(json.loads(text))
    except ValueError as exc:
        log.warning("unreadable %s: %s", VAR, exc)
        return {}


def parse(data: Any) -> dict[str, list[int]]:
    """The mapping out of the file's decoded JSON; junk is skipped."""
    found: dict[str, list[int]] = {}
    jobs = data.get("jobs", []) if isinstance(data, dict) else []
    for job in jobs if isinstance(jobs, list) else []:
        if not isinstance(job, dict):
            continue
        job_id = job.get("job_id")
        hostlist = job.get("nodes_resume") or job.get("nodes") or ""
        if not isinstance(job_id, int) or not isinstance(hostlist, str):
            continue
        try:
            nodes = expand(hostlist)
        except InputError as exc:
            log.warning("job %s in %s: %s", job_id, VAR, exc)
            continue
        for node in nodes:
            found.setdefault(node, []).append(job_id)
    return found
