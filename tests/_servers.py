"""Throwaway servers for the scale-out tests: a PostgreSQL server and Ray nodes, each in its own
temporary directory on free 127.0.0.1 ports, always stopped (only the processes started here).

Not a test module (no ``test_`` prefix); ``test_postgres.py`` and ``test_ray_cluster.py`` use it.
"""
from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from collections.abc import Iterator

PG_USER = "lfnas"


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now (the caller retries on a race)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bindir() -> Path:
    """Where ``initdb`` and ``pg_ctl`` are: Debian's /usr/lib/postgresql/<major>/bin (newest),
    else the PATH. Missing binaries are an error, not a skip: ``.ci/run`` installs them."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not found; install "
                       "Debian's 'postgresql' package (.ci/run does)")


def _as_server_user(root: Path) -> dict:
    """``initdb`` refuses root: then run the server as ``postgres`` (owning ``root``), by
    ``subprocess``'s own user switch (no ``runuser``/``su``, which may not be on PATH)."""
    if os.geteuid() != 0:
        return {}
    pw = pwd.getpwnam("postgres")
    os.chown(root, pw.pw_uid, pw.pw_gid)
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": [],
            "env": dict(os.environ, HOME=pw.pw_dir)}


@contextlib.contextmanager
def postgres_server(attempts: int = 3) -> Iterator[str]:
    """Start ``initdb`` + ``pg_ctl start`` in a temp dir; yield its URL; stop and delete it."""
    bindir = pg_bindir()
    root = Path(tempfile.mkdtemp(prefix="lfnas-pg-"))
    data, log = root / "data", root / "server.log"
    as_user = _as_server_user(root)
    run = lambda *a: subprocess.run(a, cwd=root, check=True, capture_output=True,  # noqa: E731
                                    text=True, timeout=180, **as_user)
    started = False
    try:
        run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", PG_USER, "-E", "UTF8",
            "--locale=C", "--no-sync")
        for attempt in range(attempts):
            port = free_port()
            opts = (f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
                    f"-c max_connections=50")
            try:
                run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "120",
                    "-o", opts, "start")
                started = True
                break
            except subprocess.CalledProcessError:
                if attempt == attempts - 1:  # not a port race: show the server's log
                    raise RuntimeError(f"pg_ctl start failed:\n{_tail(log)}") from None
        yield f"postgresql://{PG_USER}@127.0.0.1:{port}/postgres"
    finally:
        if started:
            subprocess.run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w",
                            "-t", "60", "stop"], cwd=root, capture_output=True, timeout=120,
                           **as_user)
        shutil.rmtree(root, ignore_errors=True)


def _tail(path: Path, n: int = 3000) -> str:
    return path.read_text(errors="replace")[-n:] if path.is_file() else "(no log)"


@contextlib.contextmanager
def ray_node(head_address: str | None, num_cpus: int, resources: str, root: Path,
             env: dict, timeout_s: float = 240) -> Iterator[str]:
    """``ray start --block`` as its own process group (a head node when ``head_address`` is
    None), its temp dir under ``root``; yields the GCS address once the node has started.
    Stopped by signalling that group only, not ``ray stop`` (which stops every Ray instance
    of this user on the machine, other tests' included)."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    cmd = [_ray_cli(), "start", "--block", "--num-cpus", str(num_cpus), "--num-gpus", "0",
           "--resources", resources, "--object-store-memory", str(200 * 2**20),
           "--node-ip-address", "127.0.0.1", "--temp-dir", str(root / "tmp"),
           "--node-manager-port", str(free_port()), "--object-manager-port", str(free_port()),
           "--dashboard-agent-listen-port", str(free_port()),
           "--dashboard-agent-grpc-port", str(free_port()),
           "--metrics-export-port", str(free_port()),
           "--runtime-env-agent-port", str(free_port()), "--disable-usage-stats"]
    if head_address is None:
        cmd += ["--head", "--port", str(port), "--include-dashboard", "false"]
        address = f"127.0.0.1:{port}"
    else:
        cmd += ["--address", head_address]
        address = head_address
    log_path = root / "ray-start.log"
    env = dict(env, RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S="0")  # no 30 s drain on SIGTERM
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, cwd=root)
    try:
        _wait_for(log_path, "Ray runtime started", proc, timeout_s)
        yield address
    finally:
        _stop_group(proc)


def _wait_for(log: Path, text: str, proc: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            why = "timed out" if proc.returncode is None else f"exited {proc.returncode}"
            raise RuntimeError(f"ray start did not start ({why}):\n{_tail(log)}")
        time.sleep(0.5)


def _ray_cli() -> str:
    """The ``ray`` script next to this interpreter (the environment the suite runs in)."""
    import sys

    here = Path(sys.executable).parent / "ray"
    return str(here) if here.is_file() else "ray"


def _stop_group(proc: subprocess.Popen, grace_s: float = 40.0) -> None:
    """SIGTERM to the node's process group (Ray drains, then stops its processes), SIGKILL
    whatever is left after ``grace_s``."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and not _group_empty(proc.pid):
        proc.poll()  # reap the leader, so an exited group really is empty
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def _group_empty(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return False
    except ProcessLookupError:
        return True


def processes_mentioning(text: str) -> list[int]:
    """PIDs whose command line contains ``text`` (e.g. a node's temp dir): what is left."""
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with contextlib.suppress(OSError):
                if text.encode() in (d / "cmdline").read_bytes():
                    pids.append(int(d.name))
    return [p for p in pids if p != os.getpid()]
