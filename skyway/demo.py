"""`make demo`: a cloud burst on this machine, narrated step by step.

Sets up the embedded defaults under state/demo (SQLite, the local
vendor whose nodes are network namespaces running their own slurmd, a
real Slurm from the test harness), submits a batch job and an
interactive session to the `demo-local` partition, shows the nodes
coming up and going down, the journal, the Terraform runs and the
bill, then stops Slurm. Needs root (namespaces, Slurm daemons).
"""

from __future__ import annotations

import os
import pty
import select
import shlex
import subprocess
import sys
import time
from pathlib import Path

import click

from skyway.errors import SkywayError
from skyway.slurm.lab import LOCAL_ACCOUNT, Lab

REPO = Path(__file__).resolve().parents[1]
FOLDER = REPO / "state" / "demo"
ACCOUNT = LOCAL_ACCOUNT
BATCH = "echo hello from $SLURMD_NODENAME; sleep 5; echo done"


def say(text: str) -> None:
    """A paragraph of narration."""
    click.echo()
    click.echo(click.wrap_text(text, width=78))


def title(number: int, text: str) -> None:
    click.echo()
    click.secho(f"=== {number}. {text}", fg="green", bold=True)


def shell(lab: Lab, *argv: str, check: bool = True) -> str:
    """Run a command as a user of the site would, echoing both."""
    click.secho(f"$ {shlex.join(argv)}", fg="cyan")
    result = lab.command(*argv, check=check, timeout=300)
    text = (result.stdout + result.stderr).rstrip()
    if text:
        click.echo(text)
    return result.stdout


def skyway(lab: Lab, *args: str) -> str:
    click.secho(f"$ skyway {' '.join(args)}", fg="cyan")
    text = lab.skyway(*args, check=False).rstrip()
    click.echo(text)
    return text


def start(lab: Lab) -> None:
    title(1, "A Slurm cluster on this machine")
    say(
        "Skyway works with the Slurm a site already runs. For the demo we "
        "start one here: munge, slurmdbd on the local MariaDB, slurmctld "
        f"and one static node. Its files are under {lab.folder}."
    )
    lab.prepare()
    lab.harness.start_accounting()
    say(
        "The admin describes each cloud account in YAML "
        f"({lab.root}/etc/accounts/). `skyway slurm --update-conf` turns "
        "them into a slurm.conf include: CLOUD nodes that do not exist "
        "yet, one partition per account, Skyway's hooks as Slurm's "
        "Resume/Suspend programs, and Slurm associations for each "
        "account's users."
    )
    skyway(lab, "slurm", "--update-conf")
    lab.harness.start_controller()
    shell(lab, "sinfo")
    say(
        "The `~` in `idle~` means powered down: those nodes cost nothing "
        "and exist only as names until a job asks for them."
    )


def user_view(lab: Lab) -> None:
    title(2, "What a user sees")
    say("Users list the node types they may use, with prices and limits:")
    shell(lab, "sinfo-node-types", "-A", ACCOUNT)


def batch_job(lab: Lab) -> str:
    title(3, "A batch job bursts into the cloud")
    job = shell(
        lab,
        "sbatch",
        "--parsable",
        f"--account={ACCOUNT}",
        f"--partition={ACCOUNT}",
        "--constraint=c1",
        f"--output={lab.folder}/job-%j.out",
        "--wrap",
        BATCH,
    ).strip()
    say(
        "Slurm picks a powered-down node and runs skyway-resume. The hook "
        "checks the account's budget, queues the request and a worker "
        "runs one targeted `terraform apply` that starts the node. Watch:"
    )
    watch(lab, job)
    say(
        "The node went alloc~ (chosen while powered down), alloc# (being "
        "created), alloc (slurmd registered). Slurm starts a batch job on "
        "a freshly booted node at its next periodic check, up to 30 s "
        "later; srun and salloc start at once."
    )
    click.secho(f"$ cat {lab.folder}/job-{job}.out", fg="cyan")
    click.echo((lab.folder / f"job-{job}.out").read_text().rstrip())
    return job


def watch(lab: Lab, job: str, timeout: float = 240) -> None:
    """Print the job's and its node's states each time they change."""
    start, last = time.monotonic(), ""
    while time.monotonic() - start < timeout:
        state = lab.command(
            "squeue", "-h", "-j", job, "-o", "%T %N", check=False
        ).stdout.strip()
        nodes = lab.command(
            "sinfo", "-h", "-p", ACCOUNT, "-o", "%t %N", check=False
        ).stdout.split("\n")
        busy = ", ".join(n for n in nodes if n and not n.startswith("idle~"))
        line = f"job {job}: {state or 'finished'} | nodes: {busy or '-'}"
        if line != last:
            click.echo(f"  {time.monotonic() - start:5.1f}s  {line}")
            last = line
        if not state:
            return
        time.sleep(0.5)
    raise SkywayError(f"job {job} did not finish within {timeout:g} s")


def interactive(lab: Lab) -> None:
    title(4, "An interactive session")
    say(
        "`sinteractive` checks membership, node type and budget, prints a "
        "quote, then becomes `srun --pty`. We type two commands into it:"
    )
    argv = ["sinteractive", "-A", ACCOUNT, "--constraint=c2", "-t", "10"]
    click.secho(f"$ {' '.join(argv)}", fg="cyan")
    transcript = run_in_pty(
        lab, argv, ["hostname; echo on $SLURMD_NODENAME", "exit"]
    )
    click.echo(transcript.rstrip())
    say(
        "The shell ran on the cloud node (SLURMD_NODENAME); `hostname` "
        "names this machine because a local node shares its kernel and "
        "files, unlike a real VM."
    )


def run_in_pty(lab: Lab, argv: list[str], lines: list[str]) -> str:
    """Run `argv` on a pty; type `lines` once its step is running."""
    leader, follower = pty.openpty()
    env = {**os.environ, **lab.env, "PS1": "[cloud node]$ "}
    env["SHELL"] = "/bin/bash"
    child = subprocess.Popen(  # noqa: S603 - an argument list
        argv, stdin=follower, stdout=follower, stderr=follower, env=env
    )
    os.close(follower)
    seen = ""
    deadline = time.monotonic() + 240
    try:
        while child.poll() is None and time.monotonic() < deadline:
            if lines and _step_running(lab):
                time.sleep(1)
                os.write(leader, (lines.pop(0) + "\n").encode())
            seen += _read(leader)
        seen += _read(leader)
    finally:
        if child.poll() is None:
            child.kill()
        os.close(leader)
    return seen.replace("\r", "")


def _read(fd: int) -> str:
    ready, _, _ = select.select([fd], [], [], 0.3)
    if not ready:
        return ""
    try:
        return os.read(fd, 4096).decode(errors="replace")
    except OSError:
        return ""


def _step_running(lab: Lab) -> bool:
    out = lab.command("squeue", "-h", "-t", "R", "-o", "%i", check=False)
    return bool(out.stdout.strip())


def power_down(lab: Lab) -> None:
    title(5, "Idle nodes go away")
    say(
        "After SuspendTime (10 s here, minutes on a real site) Slurm runs "
        "skyway-suspend; a targeted apply destroys the node and the "
        "journal gets its lifetime, jobs, users and cost."
    )
    start = time.monotonic()
    while time.monotonic() - start < 180:
        nodes = lab.command(
            "sinfo", "-h", "-p", ACCOUNT, "-o", "%t", check=False
        ).stdout.split()
        if nodes and all(state == "idle~" for state in nodes):
            break
        time.sleep(1)
    shell(lab, "sinfo", "-p", ACCOUNT)


def records(lab: Lab) -> None:
    title(6, "What Skyway recorded")
    say("The node map (every node, powered or not) and the journal:")
    skyway(lab, "misc.nodes", "-A", ACCOUNT)
    journal(lab)
    say("Every Terraform run, with its trigger, for auditors:")
    skyway(lab, "cloud", ACCOUNT, "--history")
    say("And the bill:")
    skyway(lab, "billing")
    skyway(lab, "billing", ACCOUNT, "--summary")


def journal(lab: Lab) -> None:
    from sqlalchemy import select

    from skyway import config
    from skyway.cli.app import echo_table
    from skyway.db import engine, models

    url = config.load(lab.root).database_url
    with engine.session_scope(url) as session:
        rows = session.scalars(
            select(models.NodeJournal).order_by(models.NodeJournal.id)
        ).all()
        table = [
            (
                r.node,
                r.started_at.strftime("%H:%M:%S"),
                r.ended_at.strftime("%H:%M:%S") if r.ended_at else "-",
                r.jobs or "-",
                r.users or "-",
                f"{r.cost:.4f}" if r.cost is not None else "-",
                r.end_reason or "-",
            )
            for r in rows
        ]
    click.secho("# node_journal", fg="cyan")
    echo_table(table, ["node", "start", "end", "jobs", "users", "$", "why"])


def main() -> int:
    if os.geteuid() != 0:
        click.echo("demo: needs root (network namespaces, Slurm daemons)")
        return 2
    click.secho(
        "Skyway demo: Slurm jobs on cloud nodes that do not exist yet",
        bold=True,
    )
    say(
        "The `demo-local` account uses Skyway's local vendor: each "
        "'instance' is a network namespace on this machine with its own "
        "address and its own slurmd, created and destroyed by Terraform "
        "exactly as a VM would be in AWS, GCP or Azure."
    )
    lab = Lab(FOLDER)
    try:
        start(lab)
        user_view(lab)
        batch_job(lab)
        interactive(lab)
        power_down(lab)
        records(lab)
    except SkywayError as exc:
        click.secho(f"demo: {exc}", fg="red", err=True)
        return 1
    finally:
        title(7, "Clean up")
        lab.down()
        click.echo("Slurm stopped; every node destroyed.")
        click.echo(f"The root stays in {lab.root} for a closer look.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
