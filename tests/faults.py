"""Fault-injection helpers: a loopback TCP proxy that can refuse, cut and throttle connections, the
embedded SFTP server as a killable process, the intake steps with resumable state (as Airflow's XComs),
and order-independent checksums of every mart table compared with a clean run of the same inputs.

The inputs are ``generate(scale=0.05)``. The partners that are not under fault (sdd, sociale_teams, tablis,
woonbron) are loaded once per session into a base schema and copied into each test's schema; the partner
under fault (trivire, six monthly snapshots) goes through SFTP -> fetch -> load -> settle -> publish.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import decimal
import functools
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paramiko
import sqlalchemy as sa

from devtools.sftp_server import ServerProcess
from tests.conftest import PG_BASE_URL, TEST_KEY, schema_url, scratch_schema

REPO = Path(__file__).resolve().parents[1]
FAULT_PARTNER = "trivire"
OTHER_PARTNERS = ("sdd", "sociale_teams", "tablis", "woonbron")
SCALE = 0.05
SEED = 2026
# the intake's tasks, then the publish DAG's (write-audit-publish: a build, the linkage, the audit, the switch)
PUBLISH_STEPS = ("prepare", "build_intermediate", "link", "build_marts", "publish")
STEPS = ("fetch", "load", "settle", *PUBLISH_STEPS)


# ---------------------------------------------------------------------------------------------- TCP proxy


class TcpProxy:
    """Forwards 127.0.0.1:<port> to an upstream port. ``refuse()`` closes the listener (connect is refused)
    and drops live connections, ``accept()`` listens again on the same port, ``cut()`` drops live
    connections. ``rate`` (bytes/s) throttles upstream -> client so a transfer is observably in flight."""

    def __init__(self, upstream_port: int, rate: float | None = None) -> None:
        self.upstream_port = upstream_port
        self.rate = rate
        self.port = 0
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def __enter__(self) -> TcpProxy:
        self.accept()
        return self

    def __exit__(self, *exc: object) -> None:
        self.refuse()

    def accept(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(32)
        self.port = sock.getsockname()[1]
        self._listener = sock
        threading.Thread(target=self._accept_loop, args=(sock,), daemon=True).start()

    def refuse(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        self.cut()

    def cut(self) -> None:
        with self._lock:
            live = list(self._sockets)
        self._close(*live)

    def _accept_loop(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream, None), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, self.rate), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, rate: float | None) -> None:
        piece = 256 if rate else 65536
        try:
            while data := source.recv(piece):
                target.sendall(data)
                if rate:
                    time.sleep(len(data) / rate)
        except OSError:
            pass
        finally:
            self._close(source, target)

    def _close(self, *socks: socket.socket) -> None:
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
            with self._lock:
                self._sockets.discard(sock)


def proxied_pg_url(url: str, port: int) -> str:
    return url.replace("@127.0.0.1:5432/", f"@127.0.0.1:{port}/", 1)


# ---------------------------------------------------------------------------------------------- SFTP


@contextlib.contextmanager
def sftp_session(port: int, user: str, key_file: Path, host_public_key: str) -> Iterator[paramiko.SFTPClient]:
    """A partner's SFTP session with the host key pinned (what the Airflow connection configures)."""
    from devtools.sftp_server import partner_session

    with partner_session("127.0.0.1", port, user, key_file, host_public_key) as sftp:
        yield sftp


def partner_keys(key_dir: Path) -> Any:
    from eviction_prevention.partners import load_partners

    from devtools.sftp_server import ensure_keys

    return ensure_keys(key_dir, [p.code for p in load_partners()])


class SFTPProcess(ServerProcess):
    """The embedded SFTP server as its own process, for every partner of the registry."""

    def __init__(self, root: Path, key_dir: Path) -> None:
        from eviction_prevention.partners import load_partners

        super().__init__(root, key_dir, [p.code for p in load_partners()])


# ---------------------------------------------------------------------------------------------- data


@functools.cache
def dataset() -> Path:
    """The generated partner files (scale 0.05): ``<dir>/partners/<code>/*``."""
    from devtools.synthetic import generate

    out = Path(tempfile.mkdtemp(prefix="faults-data-"))
    atexit.register(shutil.rmtree, out, True)
    generate(out, scale=SCALE, seed=SEED)
    return out


def partner_files(code: str) -> list[Path]:
    return sorted((dataset() / "partners" / code).iterdir())


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _drop_schema(schema: str) -> None:
    from eviction_prevention.publish.write_audit_publish import companion_schemas

    with contextlib.suppress(sa.exc.SQLAlchemyError):
        admin = sa.create_engine(PG_BASE_URL)
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {', '.join([schema, *companion_schemas(schema)])} CASCADE"))
        admin.dispose()


@functools.cache
def base_schema() -> str:
    """A schema holding the partners not under fault, loaded once per session (no marts)."""
    from eviction_prevention.intake import files as intake_files
    from eviction_prevention.intake import ingest
    from eviction_prevention.partners import get_partner

    schema = f"f_base_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_BASE_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    admin.dispose()
    atexit.register(_drop_schema, schema)
    home = Path(tempfile.mkdtemp(prefix="faults-base-"))
    atexit.register(shutil.rmtree, home, True)
    with environment(EVICTION_PREVENTION_HOME=str(home)):
        for code in OTHER_PARTNERS:
            partner = get_partner(code)
            files = [
                intake_files.FetchedFile(code, p.name, intake_files.sha256_file(p), str(p), p.stat().st_size)
                for p in partner_files(code)
            ]
            ingest.ingest_files(partner, files, TEST_KEY.encode(), schema_url(schema))
    return schema


def seed_other_partners(url: str) -> None:
    """Create the warehouse at ``url`` and copy in the base schema's rows."""
    from eviction_prevention import warehouse

    base = base_schema()
    with warehouse.connect(url) as conn:
        warehouse.ensure_schema(conn)
        tables = conn.execute(
            sa.text(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = :s AND table_type = 'BASE TABLE'"
            ),
            {"s": base},
        ).scalars()
        for table in sorted(tables):
            conn.execute(sa.text(f"INSERT INTO {table} SELECT * FROM {base}.{table}"))


def drop_files(port: int, keys: Any, code: str = FAULT_PARTNER) -> None:
    """Upload the partner's files into its inbox over SFTP, as the partner would."""
    from devtools.sftp_server import upload

    for path in partner_files(code):
        upload("127.0.0.1", port, code, keys.client_key_paths[code], keys.host_public_key, path)


# ---------------------------------------------------------------------------------------------- steps


Connect = Callable[[], contextlib.AbstractContextManager[Any]]


def run_step(
    step: str,
    partner_code: str,
    connect: Connect,
    previous: dict[str, Any] | None,
    build: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One step as its Airflow task runs it (lock, then the task body), with a direct SFTP session; ``build``:
    the result of ``prepare`` (the publish run's build, as its later tasks get it from XCom)."""
    from eviction_prevention.intake.locks import partner_lock
    from eviction_prevention.orchestration import tasks
    from eviction_prevention.partners import get_partner

    partner = get_partner(partner_code)
    if step == "fetch":
        with partner_lock(partner.code), connect() as client:
            return tasks.fetch_with(partner, client, sleep=lambda _s: None)
    if step == "load":
        return tasks.load(previous or {})
    if step == "settle":
        with partner_lock(partner.code), connect() as client:
            return tasks.settle_with(partner, previous or {}, client)
    if step == "prepare":
        return tasks.prepare_build()
    assert build is not None, f"{step} needs the result of prepare"
    if step in ("build_intermediate", "build_marts"):
        return tasks.build_models(build, step.removeprefix("build_"))
    if step == "link":
        return tasks.link(build)
    return tasks.publish_build(build)


def run_steps(
    partner_code: str,
    connect: Connect,
    state: Path,
    steps: tuple[str, ...] = STEPS,
    after_step: Callable[[str], None] = lambda _s: None,
) -> dict[str, Any]:
    """Run the steps in order, each one's result kept in ``state/<step>.json`` (like an XCom): a rerun
    after a crash starts at the first step without a result - what clearing the failed task does."""
    state.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        s: json.loads((state / f"{s}.json").read_text(encoding="utf-8"))
        for s in STEPS
        if (state / f"{s}.json").exists()
    }
    before = STEPS[STEPS.index(steps[0]) - 1] if STEPS.index(steps[0]) else None
    previous: dict[str, Any] | None = None
    if before and (state / f"{before}.json").exists():
        previous = json.loads((state / f"{before}.json").read_text(encoding="utf-8"))
    for step in steps:
        path = state / f"{step}.json"
        if path.exists():
            previous = json.loads(path.read_text(encoding="utf-8"))
        else:
            previous = run_step(step, partner_code, connect, previous, results.get("prepare"))
            after_step(step)
            partial = path.with_suffix(".tmp")
            partial.write_text(json.dumps(previous, default=str), encoding="utf-8")
            partial.replace(path)
        results[step] = previous
    return results


# ---------------------------------------------------------------------------------------------- checksums


def _canonical(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, float):
        return format(round(value, 9), ".9f")
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def table_checksum(conn: sa.Connection, table: str) -> str:
    """sha256 over the table's rows, each as JSON with columns in name order, rows sorted: independent of
    row and column order. Nothing is excluded."""
    result = conn.execute(sa.text(f"SELECT * FROM {table}"))
    columns = list(result.keys())
    order = sorted(range(len(columns)), key=columns.__getitem__)
    lines = sorted(json.dumps([_canonical(row[i]) for i in order], default=str) for row in result)
    digest = hashlib.sha256(json.dumps(sorted(columns)).encode())
    for line in lines:
        digest.update(line.encode() + b"\n")
    return f"{digest.hexdigest()[:16]}:{len(lines)}"


def mart_checksums(url: str) -> dict[str, str]:
    """``{mart table: checksum:rows}`` for every ``mart_*`` table of the warehouse."""
    from eviction_prevention import warehouse
    from eviction_prevention.publish import models

    with warehouse.connect(url) as conn:
        marts = models.model_names("marts")
        return {m: table_checksum(conn, m) for m in sorted(marts)}


@functools.cache
def clean_run_checksums() -> tuple[tuple[str, str], ...]:
    """The marts of a clean run of the same inputs: own schema, own state folder, own SFTP server."""
    with contextlib.ExitStack() as stack:
        schema = stack.enter_context(scratch_schema())
        home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="faults-clean-")))
        url = schema_url(schema)
        stack.enter_context(
            environment(EVICTION_PREVENTION_HOME=str(home / "var"), EVICTION_PREVENTION_WAREHOUSE_URL=url)
        )
        server = SFTPProcess(home / "sftp", home / "keys").start()
        stack.callback(server.kill)
        seed_other_partners(url)
        drop_files(server.port, server.keys)
        run_steps(FAULT_PARTNER, lambda: server.session(FAULT_PARTNER), home / "state")
        return tuple(mart_checksums(url).items())


def assert_marts_match_clean_run(url: str, fault: str) -> dict[str, str]:
    clean = dict(clean_run_checksums())
    after = mart_checksums(url)
    assert all(not v.endswith(":0") for v in clean.values() if not v.startswith("mart_delivery")), clean
    assert after == clean, f"{fault}: marts differ from the clean run"
    print(f"\n[fault] {fault}: marts match the clean run ({len(after)} tables): {json.dumps(after, sort_keys=True)}")
    return after


# ---------------------------------------------------------------------------------------------- warehouse state


def fault_partner_state(url: str) -> dict[str, Any]:
    """The fault partner's ledger, deliveries and staging rows per file (for 'loaded once' assertions)."""
    from eviction_prevention import warehouse

    params = {"p": FAULT_PARTNER}
    with warehouse.connect(url) as conn:
        ledger = conn.execute(
            sa.text(
                "SELECT file_name, status, rows_loaded, settled_at IS NOT NULL FROM meta_file_ledger "
                "WHERE partner = :p ORDER BY file_name"
            ),
            params,
        ).fetchall()
        deliveries = conn.execute(
            sa.text("SELECT file_name, status FROM meta_file_deliveries WHERE partner = :p ORDER BY file_name"), params
        ).fetchall()
        staged = conn.execute(
            sa.text(
                "SELECT l.file_name, count(s.file_id) FROM meta_file_ledger l LEFT JOIN stg_arrears_snapshots s "
                "ON s.partner = l.partner AND s.file_id = l.file_id WHERE l.partner = :p "
                "GROUP BY l.file_name ORDER BY l.file_name"
            ),
            params,
        ).fetchall()
        orphans = conn.execute(
            sa.text(
                "SELECT count(*) FROM stg_arrears_snapshots s WHERE s.partner = :p AND NOT EXISTS "
                "(SELECT 1 FROM meta_file_ledger l WHERE l.partner = s.partner AND l.file_id = s.file_id)"
            ),
            params,
        ).scalar_one()
    return {
        "ledger": [tuple(r) for r in ledger],
        "deliveries": [tuple(r) for r in deliveries],
        "staged": [(r[0], int(r[1])) for r in staged],
        "orphan_rows": int(orphans),
    }


@functools.cache
def expected_rows() -> dict[str, int]:
    """Rows per fault-partner file in the generated data (every row is valid)."""
    return {p.name: len(p.read_bytes().splitlines()) - 1 for p in partner_files(FAULT_PARTNER)}


def assert_loaded_once(url: str, sftp_home: Path) -> None:
    """Each file: one ledger row (loaded, settled), one delivery, its rows once; inbox empty, one receipt each."""
    state = fault_partner_state(url)
    rows = expected_rows()
    assert state["ledger"] == [(name, "loaded", n, True) for name, n in rows.items()]
    assert state["deliveries"] == [(name, "loaded") for name in rows]
    assert state["staged"] == list(rows.items())
    assert state["orphan_rows"] == 0
    assert sorted(os.listdir(sftp_home / "inbox")) == []
    assert len(os.listdir(sftp_home / "processed")) == len(rows)
    receipts = [n for n in os.listdir(sftp_home / "outbox") if not n.startswith(".")]
    assert sorted(r.split(".", 1)[0] for r in receipts) == sorted(Path(n).stem for n in rows)


# ---------------------------------------------------------------------------------------------- a test's world


class FaultEnv:
    """A test's warehouse (other partners seeded), state folder and SFTP server process with the fault
    partner's files in its inbox."""

    def __init__(self, tmp_path: Path, url: str) -> None:
        self.tmp = tmp_path
        self.url = url
        self.server = SFTPProcess(tmp_path / "sftp", tmp_path / "sftp-keys")

    @property
    def sftp_home(self) -> Path:
        return self.server.root / FAULT_PARTNER

    def connect(self, port: int | None = None) -> Connect:
        return lambda: self.server.session(FAULT_PARTNER, port)

    def runner(self, state: Path, kill_at: str | None = None, start_when: Path | None = None) -> subprocess.Popen:
        args = [sys.executable, "-m", "tests.fault_runner", FAULT_PARTNER, "--sftp-port", str(self.server.port)]
        args += ["--key-dir", str(self.server.key_dir), "--state", str(state)]
        args += ["--kill-at", kill_at] if kill_at else []
        args += ["--start-when", str(start_when)] if start_when else []
        log = open(state.with_suffix(".log"), "wb")  # noqa: SIM115 - closed by the child's exit
        return subprocess.Popen(args, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)

    def run(self, state: Path, steps: tuple[str, ...] = STEPS) -> dict[str, Any]:
        return run_steps(FAULT_PARTNER, self.connect(), state, steps)

    def assert_converged(self, fault: str) -> dict[str, str]:
        """The next scheduled run finds nothing to do; each file is loaded once; marts equal a clean run."""
        nothing = self.run(self.tmp / f"next-run-{uuid.uuid4().hex[:6]}", ("fetch",))
        assert nothing["fetch"]["files"] == []
        assert_loaded_once(self.url, self.sftp_home)
        return assert_marts_match_clean_run(self.url, fault)


@contextlib.contextmanager
def fault_env(tmp_path: Path, url: str) -> Iterator[FaultEnv]:
    env = FaultEnv(tmp_path, url)
    with environment(EVICTION_PREVENTION_WAREHOUSE_URL=url):
        clean_run_checksums()  # computed once per session, before this test's faults
        env.server.start()
        try:
            seed_other_partners(url)
            drop_files(env.server.port, env.server.keys)
            yield env
        finally:
            env.server.kill()
