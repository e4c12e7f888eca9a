"""A throwaway PostgreSQL cluster per test module (Debian's postgresql package, no Docker).

Postgres refuses to run as root, so as root the cluster belongs to the ``postgres`` user (created
by the Debian package) and lives in a directory it owns. Nothing is skipped: a machine without
PostgreSQL fails the test with what to install.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str
    db: str

    @property
    def env(self) -> dict[str, str]:
        """The variables deploy/dagster*.yaml read."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USER": self.user,
            "DAGSTER_PG_PASSWORD": "",
            "DAGSTER_PG_DB": self.db,
        }


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    preferred = [p for p in found if p.parts[-3] == "15"]
    if not (preferred or found):
        pytest.fail(
            "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: "
            "run scripts/system_deps (apt-get install postgresql)"
        )
    return (preferred or found)[-1].parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_owner() -> tuple[list[str], int | None, int | None]:
    """Command prefix and uid/gid to run the server as: ``postgres`` when we are root."""
    if os.geteuid() != 0:
        return [], None, None
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail("running as root and there is no 'postgres' user to own the test cluster")
    runuser = shutil.which("runuser")
    prefix = [runuser, "-u", "postgres", "--"] if runuser else ["su", "postgres", "-c"]
    return prefix, user.pw_uid, user.pw_gid


def _run(prefix: list[str], cmd: list[str]) -> subprocess.CompletedProcess:
    if prefix and prefix[0] == "su":  # su takes one shell string
        cmd = [" ".join(cmd)]
    return subprocess.run([*prefix, *cmd], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    import psycopg2

    bindir = _pg_bin()
    prefix, uid, gid = _as_owner()
    root = Path(tempfile.mkdtemp(prefix="curation-pg-"))
    if uid is not None:
        os.chown(root, uid, gid)
    data, log = root / "data", root / "server.log"
    port = _free_port()
    user = "dagster"
    done = _run(
        prefix,
        [str(bindir / "initdb"), "-D", str(data), "-U", user, "-A", "trust", "-E", "UTF8",
         "--no-sync"],
    )  # fmt: skip
    if done.returncode:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"initdb failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    options = (
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c max_connections=200"
    )
    ctl = [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60"]
    done = _run(prefix, [*ctl, "-o", f"'{options}'" if prefix[:1] == ["su"] else options, "start"])
    if done.returncode:
        text = log.read_text(errors="replace") if log.exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start ({done.returncode}):\n{done.stderr}\n{text}")
    try:
        con = psycopg2.connect(host="127.0.0.1", port=port, user=user, dbname="postgres")
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute("CREATE DATABASE dagster")
        con.close()
        yield Postgres("127.0.0.1", port, user, "dagster")
    finally:
        _run(prefix, [*ctl, "-m", "immediate", "stop"])
        shutil.rmtree(root, ignore_errors=True)


def render_instance(template: Path, dagster_home: Path) -> Path:
    """Put a deploy/ instance config into a DAGSTER_HOME, as an operator would."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    target = dagster_home / "dagster.yaml"
    shutil.copyfile(template, target)
    return target


def failure_messages(instance, runs) -> str:
    """The failure events of the runs that did not succeed (for a readable test failure)."""
    import dagster as dg

    return "\n".join(
        e.message
        for r in runs
        if r.status != dg.DagsterRunStatus.SUCCESS
        for e in instance.all_logs(r.run_id)
        if e.dagster_event and e.dagster_event.is_failure
    )[-4000:]
