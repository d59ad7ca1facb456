"""The end-to-end demo on the embedded default: synthetic files -> embedded SFTP -> Airflow -> DuckDB."""

from __future__ import annotations

import csv
import datetime as dt
import glob
import io
import logging
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from eviction_prevention import settings
from eviction_prevention.dutch_time import AMSTERDAM

from devtools import airflow_env, progress

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoPaths:
    home: Path

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def sftp_root(self) -> Path:
        return self.home / "sftp"

    @property
    def keys(self) -> Path:
        return self.home / "keys"

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / "demo-airflow.log"

    @property
    def chatter_file(self) -> Path:
        """Where the demo's own log lines go (the SFTP server's sessions, library messages): not the console."""
        return self.home / "logs" / "demo.log"


def log_to_file(path: Path) -> None:
    """Send log records to ``path`` (rewritten) and keep only warnings on the console, whose lines are the
    demo's steps."""
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    for handler in root.handlers:
        handler.setLevel(logging.WARNING)
    to_file = logging.FileHandler(path, mode="w", encoding="utf-8")
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(to_file)
    root.setLevel(logging.INFO)


def pseudonym_key_file(keys_dir: Path) -> Path:
    """The demo's HMAC key: created once, kept outside the warehouse and outside the code."""
    return _key_file(keys_dir / "pseudonym.key")


def vault_key_file(keys_dir: Path) -> Path:
    """The demo's identity vault key (``identity_vault``): a secret of its own, beside the HMAC key."""
    return _key_file(keys_dir / "vault.key")


def _key_file(path: Path) -> Path:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path


def reset_state(paths: DemoPaths) -> None:
    """A demo starts from nothing but its keys, Airflow's metadata DB and its own log files (rewritten)."""
    for folder in (paths.data, paths.sftp_root, paths.home / "landing"):
        shutil.rmtree(folder, ignore_errors=True)
    paths.log_file.unlink(missing_ok=True)
    (paths.home / "warehouse.duckdb").unlink(missing_ok=True)
    (paths.home / "warehouse.duckdb.wal").unlink(missing_ok=True)


FAULTY = "faulty"  # data/faulty/<partner>/: the deliveries the demo gets wrong on purpose


def faulty_deliveries(data_dir: Path) -> list[Path]:
    """Two deliveries a partner gets wrong, made from its own latest file, which the pipeline must refuse
    without quoting a cell: Trivire's without its header row (its first tenant's name and e-mail address
    stand where the headers belong) and Woonbron's with every row shifted one column to the right (names
    land in date and amount columns). They sit in ``data/faulty/<partner>/`` and are delivered with the rest.
    """
    from eviction_prevention.partners import get_partner

    made = []
    for code, label, change in (("trivire", "zonder_kopregel", _headerless), ("woonbron", "verschoven", _shifted)):
        layout = get_partner(code).layout
        latest = sorted((data_dir / "partners" / code).iterdir())[-1]
        text = latest.read_bytes().decode(layout.encoding)
        terminator = "\r\n" if "\r\n" in text else "\n"
        rows = change(list(csv.reader(io.StringIO(text, newline=""), delimiter=layout.delimiter)))
        out = io.StringIO(newline="")
        csv.writer(out, delimiter=layout.delimiter, lineterminator=terminator).writerows(rows)
        path = data_dir / FAULTY / code / f"{latest.stem}_{label}{latest.suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(out.getvalue().encode(layout.encoding))
        made.append(path)
    return made


def _headerless(rows: list[list[str]]) -> list[list[str]]:
    return rows[1:]


def _shifted(rows: list[list[str]]) -> list[list[str]]:
    return rows[:1] + [["", *row[:-1]] for row in rows[1:]]


def drop_partner_files(data_dir: Path, host: str, port: int, keys: object) -> int:
    """Upload every generated partner file to its partner's inbox, as the partner would, and the faulty
    deliveries after them."""
    from devtools.sftp_server import upload

    paths = [
        path
        for kind in ("partners", FAULTY)
        if (data_dir / kind).is_dir()
        for folder in sorted((data_dir / kind).iterdir())
        for path in sorted(folder.iterdir())
    ]
    for path in progress.counted(paths, "files uploaded", total=len(paths), every=5):
        partner = path.parent.name
        delivered = simulated_delivery(path.name)
        upload(host, port, partner, keys.client_key_paths[partner], keys.host_public_key, path, mtime=delivered)
    return len(paths)


DELIVERY_DELAY = dt.timedelta(days=3, hours=10)  # the partner uploads at 10:00, three days after the as-of date


def simulated_delivery(name: str) -> float | None:
    """When a partner of the synthetic world delivered the file named ``name`` (its as-of date is in the
    name): the demo drops six months of files at once, and keeps each file's own delivery moment as its
    modification time, as a client preserving times would, so delivery compliance follows the world's
    timeline rather than the moment the demo ran."""
    found = re.search(r"\d{4}-\d{2}-\d{2}", name)
    if found is None:
        return None
    local = dt.datetime.combine(dt.date.fromisoformat(found.group()), dt.time()) + DELIVERY_DELAY
    return local.replace(tzinfo=AMSTERDAM).timestamp()


def airflow_run_env(paths: DemoPaths, url: str | None, port: int, keys: object) -> dict[str, str]:
    """The environment of the demo's Airflow runs: the demo's keys, its warehouse and the partners' SFTP
    connections to the embedded server on ``port``. Runs take the moment they start as logical date, so
    Airflow shows their real start and duration."""
    extra = {
        settings.KEY_ENV: pseudonym_key_file(paths.keys).read_text().strip(),
        settings.VAULT_KEY_ENV: vault_key_file(paths.keys).read_text().strip(),
        "EVICTION_PREVENTION_WAREHOUSE_URL": url or settings.warehouse_url(),
        **airflow_env.sftp_connections("127.0.0.1", port, keys),
    }
    return airflow_env.base_env(paths.home, extra)


def run_pipeline(paths: DemoPaths, scale: float, seed: int, url: str | None = None) -> dict[str, object]:
    """Generate, serve, drop, run both DAGs through Airflow. Returns the key used and the ground truth dir."""
    from eviction_prevention.partners import load_partners

    from devtools.sftp_server import EmbeddedSFTPServer, ensure_keys
    from devtools.synthetic import generate

    steps = progress.Steps(5)
    reset_state(paths)
    with steps.step("generate synthetic partner files") as done:
        summary = generate(paths.data, scale=scale, seed=seed)
        faulty = faulty_deliveries(paths.data)
        done(f"{sum(summary['files'].values())} rows in {len(summary['files'])} files, {len(faulty)} faulty files")
    users = [p.code for p in load_partners()]
    keys = ensure_keys(paths.keys / "sftp", users)
    with EmbeddedSFTPServer(paths.sftp_root, keys, users) as server:
        with steps.step(f"drop the files into the partners' SFTP inboxes (port {server.port})") as done:
            dropped = drop_partner_files(paths.data, "127.0.0.1", server.port, keys)
            done(f"{dropped} files")
        env = airflow_run_env(paths, url, server.port, keys)
        with steps.step("prepare Airflow's metadata database"):
            airflow_env.migrate(env, paths.log_file)
        with steps.step("airflow dags test partner_intake"):
            airflow_env.dags_test("partner_intake", env, paths.log_file)
        with steps.step("airflow dags test publish_referrals"):
            airflow_env.dags_test("publish_referrals", env, paths.log_file)
    return {
        "generated": summary,
        "dropped": dropped,
        "faulty": [(path.parent.name, path.name) for path in faulty],
        "key": env[settings.KEY_ENV].encode(),
        "vault_key": env[settings.VAULT_KEY_ENV].encode(),
        "truth_dir": paths.data / "ground_truth",
    }


def receipts_for(paths: DemoPaths, deliveries: list[tuple[str, str]]) -> list[Path]:
    """The receipts the pipeline wrote to the partners' outboxes for these (partner, file name) deliveries."""
    from eviction_prevention.intake.files import RECEIPT_SUFFIX

    return [
        receipt
        for partner, name in deliveries
        for receipt in sorted((paths.sftp_root / partner / "outbox").glob(f"{glob.escape(name)}.*{RECEIPT_SUFFIX}"))
    ]


def run_in_process(data_dir: Path, url: str, key: bytes, vault_key: bytes | None = None) -> dict[str, object]:
    """The same stages without SFTP and Airflow: land each generated file, ingest it, publish.
    ``vault_key``: the identity vault's key (default ``settings.vault_key``).

    For benchmarks and fast evaluation; the demo and the end-to-end test use the real path.
    """
    from eviction_prevention.intake import files as intake_files
    from eviction_prevention.intake import ingest as intake_ingest
    from eviction_prevention.partners import get_partner
    from eviction_prevention.publish import rebuild

    outcomes = []
    for partner_dir in sorted((data_dir / "partners").iterdir()):
        partner = get_partner(partner_dir.name)
        files = [
            intake_files.FetchedFile(
                partner.code, path.name, intake_files.sha256_file(path), str(path), path.stat().st_size
            )
            for path in sorted(partner_dir.iterdir())
        ]
        outcomes += intake_ingest.ingest_files(partner, files, key, url, vault_key=vault_key)
    return {"files": len(outcomes), "published": rebuild.publish(url, key=key)}
