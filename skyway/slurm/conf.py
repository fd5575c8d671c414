"""Skyway's include file for slurm.conf and the hook wrappers, as text.

Pure functions: the same configuration always renders the same text, so
`--dry-run` can show a diff and tests compare against expected lines.
"""

from __future__ import annotations

import difflib
import logging
import os
import shlex
import tempfile
from dataclasses import dataclass
from pathlib import Path

from skyway.config import Account, Config, NodeType, SlurmSettings
from skyway.names import node_name
from skyway.slurm import spool as spool_files
from skyway.slurm.hostlists import compress

log = logging.getLogger(__name__)
NODE_PORT = 6820
# Where the skyway package is imported from: the wrappers run Python
# without site-packages (-S) for a fast start, and name it instead.
PACKAGE_HOME = Path(__file__).resolve().parents[2]
HOOKS = {
    "ResumeProgram": "skyway-resume",
    "SuspendProgram": "skyway-suspend",
    "ResumeFailProgram": "skyway-resume-fail",
}
HOOK_COMMANDS = {
    "skyway-resume": "resume",
    "skyway-suspend": "suspend",
    "skyway-resume-fail": "resume-fail",
}
HEADER = (
    "# Written by `skyway slurm --update-conf` from {root}/etc;\n"
    "# edit the YAML there and run it again instead of editing this file."
)


def include_path(config: Config) -> Path:
    """Where the slurm.conf include is written."""
    configured = config.settings.slurm.conf_include
    return configured or config.state_dir / "slurm" / "skyway.conf"


def hooks_dir(config: Config) -> Path:
    """Where the hook wrappers slurmctld runs are written."""
    configured = config.settings.slurm.bin_dir
    return configured or config.state_dir / "slurm" / "bin"


def render_include(config: Config, hooks: Path) -> str:
    """The whole include: power saving, then each account's nodes."""
    parts = [HEADER.format(root=config.root)]
    parts.append("\n".join(power_saving(config.settings.slurm, hooks)))
    if _has_gpus(config):
        parts.append("GresTypes=gpu")
    for name in sorted(config.accounts):
        parts.append("\n".join(account_lines(config, config.accounts[name])))
    return "\n\n".join(parts) + "\n"


def power_saving(settings: SlurmSettings, hooks: Path) -> list[str]:
    """Slurm's power-saving settings pointing at Skyway's hooks.

    A powered-down cloud node keeps a placeholder address that answers
    at once (`NoAddrCache` makes slurmctld re-read it); `PrivateData=
    cloud` shows powered-down nodes in sinfo.
    """
    lines = ["# Power saving: Slurm asks Skyway to start and stop nodes."]
    lines += [f"{key}={hooks / name}" for key, name in HOOKS.items()]
    lines += [
        f"SuspendTime={settings.suspend_time}",
        f"SuspendTimeout={settings.suspend_timeout}",
        f"ResumeTimeout={settings.resume_timeout}",
        f"ResumeRate={settings.resume_rate}",
        f"SuspendRate={settings.suspend_rate}",
    ]
    if settings.static_nodes:
        lines.append(f"SuspendExcNodes={compress(settings.static_nodes)}")
    lines += [
        "SlurmctldParameters=idle_on_node_suspend",
        "CommunicationParameters=NoAddrCache",
        "PrivateData=cloud",
        "TreeWidth=65533",
    ]
    return lines


def account_lines(config: Config, account: Account) -> list[str]:
    """NodeName lines per node type and the account's own partition."""
    vendor = config.vendors[account.vendor]
    placeholder = config.settings.slurm.placeholder_address
    lines = [f"# Account {account.name}: {account.vendor}, {account.group}"]
    every: list[str] = []
    for type_name, count in sorted(account.nodes.items()):
        if count == 0:
            continue
        nodes = [
            node_name(account.name, type_name, i + 1) for i in range(count)
        ]
        every += nodes
        lines.append(
            node_line(
                compress(nodes),
                type_name,
                vendor.node_types[type_name],
                account,
                placeholder,
            )
        )
    if every:
        lines.append(partition_line(account.name, compress(every)))
    return lines


def node_line(
    hostlist: str,
    type_name: str,
    node_type: NodeType,
    account: Account,
    placeholder: str,
) -> str:
    """One `NodeName=... State=CLOUD` line for a node type of an account."""
    fields = [
        f"NodeName={hostlist}",
        f"NodeAddr={placeholder}",
        f"Port={NODE_PORT}",
        f"CPUs={node_type.cores}",
        f"RealMemory={node_type.memory_mb}",
    ]
    if node_type.gpus:
        kind = f"{node_type.gpu_type}:" if node_type.gpu_type else ""
        fields.append(f"Gres=gpu:{kind}{node_type.gpus}")
    fields.append(f"Feature={type_name},{account.vendor},{account.name}")
    fields.append("State=CLOUD")
    return " ".join(fields)


def partition_line(account: str, hostlist: str) -> str:
    """A partition only the Slurm account of the same name may use."""
    return (
        f"PartitionName={account} Nodes={hostlist} AllowAccounts={account} "
        "MaxTime=INFINITE State=UP"
    )


def _has_gpus(config: Config) -> bool:
    return any(
        config.vendors[account.vendor].node_types[type_name].gpus
        for account in config.accounts.values()
        for type_name in account.nodes
    )


@dataclass(frozen=True)
class Wrapper:
    """A hook wrapper: the file slurmctld runs and the text in it."""

    path: Path
    text: str


def spool_dir(config: Config) -> Path:
    """Where hook calls wait for their drainer."""
    return config.state_dir / "slurm" / "spool"


def hook_wrappers(
    config: Config, python: Path, slurm_conf: str | None
) -> list[Wrapper]:
    """The three hook wrappers, each a tiny sh script.

    slurmctld runs a hook with a bare environment and no arguments but
    the hostlist, so the wrapper names the root and the Slurm config.
    """
    folder = hooks_dir(config)
    return [
        Wrapper(
            folder / program,
            render_wrapper(
                command, config.root, spool_dir(config), python, slurm_conf
            ),
        )
        for program, command in HOOK_COMMANDS.items()
    ]


def render_wrapper(
    command: str,
    root: Path,
    spool: Path,
    python: Path,
    slurm_conf: str | None,
) -> str:
    """One wrapper script: environment, then spool the call or exec.

    A plain call (one hostlist of node-name characters) is written into
    the spool by the shell itself, as `skyway.slurm.spool` reads it;
    Python starts only when no drainer holds the spool's lock, to
    become the drainer (flock exits 75 when one does). Anything else,
    and a spool that cannot be written, goes to the hook in Python,
    which starts without site-packages (-S) and loads them itself in
    the process that needs more than the standard library.
    """
    search = f"{python.parent}:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    hook = ["-S", "-m", "skyway.cli.hooks"]
    run = " ".join(shlex.quote(p) for p in [str(python), *hook])
    resume_text = ""
    if command == "resume":
        resume_text = (
            '\n        [ -z "${SLURM_RESUME_FILE:-}" ] ||'
            ' cat -- "$SLURM_RESUME_FILE" 2>/dev/null || :'
        )
    lines = [
        "#!/bin/sh",
        f"# Slurm's hook for Skyway at {root}; `skyway slurm --update-conf`",
        "# writes this file.",
        f"SKYWAY_ROOT={shlex.quote(str(root))}",
        f"SKYWAY_HOOK_SPOOL={shlex.quote(str(spool))}",
        f"PYTHONPATH={shlex.quote(str(PACKAGE_HOME))}",
        f"PATH={shlex.quote(search)}",
        "export SKYWAY_ROOT SKYWAY_HOOK_SPOOL PYTHONPATH PATH",
    ]
    if slurm_conf:
        lines.append(f"SLURM_CONF={shlex.quote(slurm_conf)}; export SLURM_CONF")
    lines.append(
        SPOOL_IN_SHELL.format(
            command=shlex.quote(command),
            resume_text=resume_text,
            run=run,
            suffix=spool_files.SUFFIX,
            lock=spool_files.LOCK_NAME,
        )
    )
    lines.append(f'exec {run} {command} "$@"')
    return "\n".join(lines) + "\n"


SPOOL_IN_SHELL = """\
spool_call() {{
    case $1 in "" | -* | *[!]A-Za-z0-9._,[-]*) return 1 ;; esac
    now=$(date +%s.%N) || return 1
    case $now in "" | *[!0-9.]* | .* | *. | *.*.*) return 1 ;; esac
    name=0${{now%.*}}${{now#*.}}-$${suffix}
    spool=$SKYWAY_HOOK_SPOOL
    {{
        printf '%s\\n%s\\n%s\\n' {command} "$now" "$1"{resume_text}
    }} 2>/dev/null >"$spool/.$name" || return 1
    mv -f -- "$spool/.$name" "$spool/$name"
}}
if [ $# -eq 1 ] && [ -z "${{SKYWAY_HOOK_FOREGROUND:-}}" ] &&
    spool_call "$1"; then
    flock -n -E 75 "$SKYWAY_HOOK_SPOOL/{lock}" true
    [ $? -ne 75 ] || exit 0
    exec {run} drain
fi"""


def diff(old: str, new: str, path: Path) -> str:
    """A unified diff from what is on disk to what would be written."""
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=f"{path} (now)",
            tofile=f"{path} (new)",
        )
    )


def read(path: Path) -> str:
    """A file's text, or "" if it does not exist yet."""
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


def write(path: Path, text: str, mode: int = 0o644) -> bool:
    """Write atomically if the text differs; return whether it changed."""
    if read(path) == text and (path.stat().st_mode & 0o777) == mode:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    log.info("wrote %s", path)
    return True
