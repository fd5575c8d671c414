"""A real Slurm on this host for the demo, the tests and the benchmarks.

Installs what is missing (Debian's slurmctld, slurmd, slurmdbd,
slurm-client, munge), starts munge, slurmdbd on the MariaDB at
127.0.0.1:3306, slurmctld and one static slurmd, all with configuration
generated in a scratch folder, and stops them by pid. Only one Slurm can
run on a host at a time (fixed ports), so a lock file serializes users.

Start in two phases: `start_accounting()` (up to slurmdbd and the
cluster), then, once the Skyway include is written, `start_controller()`.
"""

from __future__ import annotations

import fcntl
import logging
import os
import secrets
import shutil
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from skyway.errors import CommandError, LockTimeout, SkywayError
from skyway.runner import run
from skyway.slurm import netns, scontrol

log = logging.getLogger(__name__)
PACKAGES = ("slurmctld", "slurmd", "slurmdbd", "slurm-client", "munge")
TOOLS = ("iproute2", "util-linux", "mariadb-server")
LOCK_FILE = Path("/tmp/skyway-slurm-harness.lock")
MYSQL_URL = "mysql+pymysql://root@127.0.0.1:3306"
DBD_PORT = 6819
CTLD_PORT = 6817


class HarnessError(SkywayError):
    """The local Slurm could not be installed, started or stopped."""


def ensure_packages() -> list[str]:
    """Install the Debian packages that are missing; return them."""
    missing = [p for p in (*PACKAGES, *TOOLS) if not _installed(p)]
    if not missing:
        return []
    if os.geteuid() != 0:
        raise HarnessError(f"need root to install: {' '.join(missing)}")
    log.info("installing %s", " ".join(missing))
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-q"], timeout=600, env=env)
    run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends"] + missing,
        timeout=1200,
        env=env,
    )
    return missing


def _installed(package: str) -> bool:
    result = run(
        ["dpkg-query", "-W", "-f=${Status}", package], check=False, timeout=30
    )
    return result.stdout.strip().endswith("install ok installed")


def wait_for(what: str, ready: Callable[[], bool], timeout: float) -> None:
    """Poll `ready` until it holds; HarnessError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise HarnessError(f"{what} not ready after {timeout:g} s")
        time.sleep(0.2)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def munge_works() -> bool:
    try:
        token = run(["munge", "-n"], timeout=10).stdout
        run(["unmunge"], input_text=token, timeout=10)
    except CommandError:
        return False
    return True


class Harness:
    """One local Slurm cluster whose files all live under `folder`."""

    def __init__(
        self,
        folder: Path,
        include: Path | None = None,
        cluster: str = "skyway",
        network: str = netns.DEFAULT_NETWORK,
        mysql_url: str | None = None,
    ) -> None:
        self.folder = folder.resolve()
        self.include = include or self.folder / "etc" / "skyway.conf"
        self.cluster = cluster
        self.network = network
        self.mysql_url = (
            mysql_url or os.environ.get("SKYWAY_TEST_MYSQL_URL") or MYSQL_URL
        )
        self.host = socket.gethostname().split(".")[0]
        self.database = f"slurm_acct_{cluster}"
        self.started_munge = False
        self._saved_conf: str | None = None
        self._lock: IO[str] | None = None

    @property
    def conf(self) -> Path:
        return self.folder / "etc" / "slurm.conf"

    @property
    def env(self) -> dict[str, str]:
        return {"SLURM_CONF": str(self.conf)}

    def path(self, *parts: str) -> Path:
        return self.folder.joinpath(*parts)

    def lock(self, timeout: float = 1800) -> None:
        """Wait until no other harness runs on this host, then hold it."""
        handle = LOCK_FILE.open("a")
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    handle.close()
                    raise LockTimeout(
                        f"another Slurm harness holds {LOCK_FILE}"
                    ) from None
                time.sleep(1)
        self._lock = handle

    def unlock(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def start_accounting(self) -> None:
        """Packages, munge, the accounting database, slurmdbd, cluster."""
        ensure_packages()
        self._prepare_folder()
        self._start_munge()
        netns.ensure_bridge(self.network)
        password = secrets.token_hex(12)
        self._ensure_mariadb()
        self._create_database(password)
        self._write_configs(password)
        if not self.include.exists():
            self.include.parent.mkdir(parents=True, exist_ok=True)
            self.include.write_text("# no Skyway nodes yet\n")
        self._saved_conf = os.environ.get("SLURM_CONF")
        os.environ["SLURM_CONF"] = str(self.conf)
        run(["slurmdbd"], timeout=60)
        wait_for("slurmdbd", lambda: port_open(DBD_PORT), 60)
        run(["sacctmgr", "-i", "add", "cluster", self.cluster], timeout=60)

    def start_controller(self) -> None:
        """slurmctld with the include as written now, then the static node."""
        run(["slurmctld", "-c", "-i"], timeout=60)
        wait_for("slurmctld", scontrol.ping, 60)
        self.path("spool", self.host).mkdir(parents=True, exist_ok=True)
        run(["slurmd", "-N", self.host], timeout=60)
        wait_for("the static slurmd", self._static_idle, 60)

    def start(self) -> None:
        self.start_accounting()
        self.start_controller()

    def _static_idle(self) -> bool:
        states = scontrol.node_states([self.host])
        return states.get(self.host, "").rstrip("*~#") == "idle"

    def stop(self) -> None:
        """Stop cloud nodes, daemons (by pid file) and our munged."""
        for node in netns.running():
            netns.teardown(node)
        pid_files = sorted(self.path("run").glob("slurmd-*.pid"))
        pid_files += [self.path("run", "slurmctld.pid")]
        pid_files += [self.path("run", "slurmdbd.pid")]
        for pid_file in pid_files:
            _kill_pid_file(pid_file)
        self._restore_env()
        marker = self.path("run", "munged.started")
        if self.started_munge or marker.exists():
            _kill_pid_file(Path("/run/munge/munged.pid"))
            self.started_munge = False
            marker.unlink(missing_ok=True)

    def _restore_env(self) -> None:
        """Give this process back the SLURM_CONF it had before start."""
        if os.environ.get("SLURM_CONF") != str(self.conf):
            return
        if self._saved_conf is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = self._saved_conf

    def _prepare_folder(self) -> None:
        if self.path("run", "slurmctld.pid").exists():
            self.stop()
        for sub in ("state", "spool", "run"):
            shutil.rmtree(self.path(sub), ignore_errors=True)
        for sub in ("etc", "log", "state", "spool", "run"):
            self.path(sub).mkdir(parents=True, exist_ok=True)

    def _start_munge(self) -> None:
        if munge_works():
            return
        for folder in ("/run/munge", "/var/log/munge", "/var/lib/munge"):
            Path(folder).mkdir(parents=True, exist_ok=True)
            shutil.chown(folder, "munge", "munge")
        run(["runuser", "-u", "munge", "--", "/usr/sbin/munged"], timeout=30)
        self.started_munge = True
        self.path("run", "munged.started").touch()
        wait_for("munged", munge_works, 30)

    def _ensure_mariadb(self) -> None:
        """Start the host's MariaDB when nothing answers on its port."""
        host, port = _mysql_parts(self.mysql_url)
        if port_open(port, host) or host not in ("127.0.0.1", "localhost"):
            return
        log.info("starting MariaDB on %s:%s", host, port)
        Path("/run/mysqld").mkdir(exist_ok=True)
        shutil.chown("/run/mysqld", "mysql", "mysql")
        run(
            [
                "start-stop-daemon",
                "--start",
                "--oknodo",
                "--background",
                "--exec",
                "/usr/sbin/mariadbd",
            ],
            timeout=60,
        )
        wait_for("MariaDB", lambda: port_open(port, host), 60)

    def _create_database(self, password: str) -> None:
        import sqlalchemy as sa

        admin = sa.create_engine(self.mysql_url, isolation_level="AUTOCOMMIT")
        statements = [f"DROP DATABASE IF EXISTS {self.database}"]
        statements.append(f"CREATE DATABASE {self.database}")
        for host in ("127.0.0.1", "localhost"):
            user = f"'slurm'@'{host}'"
            statements += [
                f"CREATE USER IF NOT EXISTS {user}",
                f"ALTER USER {user} IDENTIFIED BY '{password}'",
                f"GRANT ALL ON {self.database}.* TO {user}",
            ]
        try:
            with admin.connect() as conn:
                for statement in statements:
                    conn.execute(sa.text(statement))
        except sa.exc.SQLAlchemyError as exc:
            raise HarnessError(f"MariaDB for slurmdbd: {exc}") from exc
        finally:
            admin.dispose()

    def _write_configs(self, password: str) -> None:
        url = _mysql_parts(self.mysql_url)
        dbd = self.path("etc", "slurmdbd.conf")
        dbd.write_text(
            render_slurmdbd_conf(self.folder, url, self.database, password)
        )
        dbd.chmod(0o600)
        gateway = str(netns.gateway(self.network).ip)
        self.conf.write_text(
            render_slurm_conf(
                self.folder,
                self.cluster,
                self.host,
                gateway,
                os.cpu_count() or 1,
                self.include,
            )
        )


def _mysql_parts(url: str) -> tuple[str, int]:
    import sqlalchemy as sa

    parsed = sa.engine.make_url(url)
    return parsed.host or "127.0.0.1", parsed.port or 3306


def _kill_pid_file(pid_file: Path, grace: float = 10) -> None:
    """Stop the daemon a pid file names, waiting for it to exit."""
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    run(["kill", str(pid)], check=False)
    deadline = time.monotonic() + grace
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    if Path(f"/proc/{pid}").exists():
        run(["kill", "-KILL", str(pid)], check=False)
    pid_file.unlink(missing_ok=True)


def render_slurmdbd_conf(
    folder: Path, server: tuple[str, int], database: str, password: str
) -> str:
    """slurmdbd.conf for a MariaDB server `(host, port)`."""
    host, port = server
    return "\n".join(
        [
            "AuthType=auth/munge",
            "DbdHost=localhost",
            f"DbdPort={DBD_PORT}",
            "SlurmUser=root",
            "StorageType=accounting_storage/mysql",
            f"StorageHost={host}",
            f"StoragePort={port}",
            "StorageUser=slurm",
            f"StoragePass={password}",
            f"StorageLoc={database}",
            f"LogFile={folder}/log/slurmdbd.log",
            f"PidFile={folder}/run/slurmdbd.pid",
            "",
        ]
    )


def render_slurm_conf(
    folder: Path,
    cluster: str,
    host: str,
    gateway: str,
    cpus: int,
    include: Path,
) -> str:
    """The base slurm.conf of a one-host cluster; Skyway's part is included.

    slurmctld listens on the bridge's gateway address too, so slurmd in
    a node's namespace reaches it there.
    """
    return "\n".join(
        [
            f"ClusterName={cluster}",
            f"SlurmctldHost={host}({gateway})",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            f"StateSaveLocation={folder}/state",
            f"SlurmdSpoolDir={folder}/spool/%n",
            f"SlurmctldPidFile={folder}/run/slurmctld.pid",
            f"SlurmdPidFile={folder}/run/slurmd-%n.pid",
            f"SlurmctldLogFile={folder}/log/slurmctld.log",
            "SlurmctldDebug=verbose",
            "DebugFlags=Power",
            "SlurmdTimeout=30",
            f"SlurmdLogFile={folder}/log/slurmd-%n.log",
            f"SlurmctldPort={CTLD_PORT}",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "JobAcctGatherType=jobacct_gather/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core",
            "MpiDefault=none",
            "ReturnToService=2",
            "AccountingStorageType=accounting_storage/slurmdbd",
            "AccountingStorageHost=localhost",
            f"AccountingStoragePort={DBD_PORT}",
            "AccountingStorageEnforce=associations,limits",
            f"NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} "
            "RealMemory=1000 State=UNKNOWN",
            f"PartitionName=local Nodes={host} Default=YES "
            "MaxTime=INFINITE State=UP",
            f"Include {include}",
            "",
        ]
    )


def main(argv: list[str]) -> int:
    """`python -m skyway.slurm.harness up|down DIR [INCLUDE]`."""
    logging.basicConfig(level=logging.INFO, format="harness: %(message)s")
    if len(argv) not in (2, 3) or argv[0] not in ("up", "down"):
        log.error("usage: harness up|down DIR [INCLUDE]")
        return 2
    include = Path(argv[2]) if len(argv) == 3 else None
    harness = Harness(Path(argv[1]), include)
    if argv[0] == "down":
        harness.stop()
        return 0
    harness.start()
    log.info("up; use it with: export SLURM_CONF=%s", harness.conf)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
