"""Fuzzing the intake (issue 16): random mutations of the good fixtures (bytes flipped, truncated, cells grown,
zip members altered, encodings swapped), each partner's mutants delivered in one batch with its good file,
through the embedded SFTP server and the intake's fetch -> load -> settle, on DuckDB and PostgreSQL.

For every mutant: the task does not crash, there is a receipt, the file is in quarantine (rejected) or processed
(loaded or a duplicate), zero or all of its accepted rows are in staging, the good file of the batch loads, and no
personal value of the fixture is in an outcome (the load task's XCom), a receipt or the log. Bounded: a fixed
seed, MUTANTS per partner, small files.
"""

from __future__ import annotations

import io
import json
import logging
import os
import random
import zipfile
from pathlib import Path

import pytest
from eviction_prevention import warehouse
from eviction_prevention.intake import receipts
from eviction_prevention.intake import settle as intake_settle
from eviction_prevention.parse.files import parse_file
from eviction_prevention.partners import get_partner

from tests.conftest import PartnerSFTP, run_intake
from tests.test_end_to_end import PERSONAL_COLUMNS

pytestmark = pytest.mark.sftp

GOOD = Path(__file__).resolve().parent / "fixtures" / "good"
MUTANTS = 7
SEED = 20261203


def _flip(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        at = rng.randrange(len(out))
        out[at] ^= 1 << rng.randrange(8)
    return bytes(out)


def _truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(1, len(data))]


def _grow_cell(rng: random.Random, data: bytes) -> bytes:
    at = rng.randrange(len(data))
    return data[:at] + rng.choice([b"x", b'"', b";", b"\n", b"\xe9"]) * rng.choice([10, 5_000, 200_000]) + data[at:]


def _swap_encoding(rng: random.Random, data: bytes) -> bytes:
    text = data.decode("utf-8-sig", errors="replace") if rng.random() < 0.5 else data.decode("cp1252", "replace")
    text = text.replace("a", "ä", 3)  # a letter beyond ASCII, so the encodings differ
    return text.encode(rng.choice(["utf-8", "utf-16", "cp1252", "latin-1"]), errors="replace")


def _alter_member(rng: random.Random, data: bytes) -> bytes:
    """One zip member of an .xlsx altered: its bytes flipped or cut, or its XML grown."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        members = zin.infolist()
        victim = rng.choice(members).filename
        for member in members:
            body = zin.read(member)
            if member.filename == victim:
                body = rng.choice([_flip, _truncate, _grow_cell])(rng, body) if body else body
            zout.writestr(member, body)
    return out.getvalue()


CSV_MUTATIONS = [_flip, _truncate, _grow_cell, _swap_encoding]
XLSX_MUTATIONS = [_flip, _truncate, _alter_member, _alter_member]


def _personal_values(partner: str, path: Path) -> set[str]:
    spec = get_partner(partner)
    frame = parse_file(path, spec.layout, spec.kind).frame
    values = {str(v) for c in PERSONAL_COLUMNS if c in frame.columns for v in frame[c].dropna() if len(str(v)) >= 4}
    values |= {v.strftime("%d-%m-%Y") for v in frame["birth_date"].dropna()} if "birth_date" in frame else set()
    return values


def _mutants(partner: str, good: Path, rng: random.Random) -> list[tuple[str, bytes]]:
    data = good.read_bytes()
    mutations = XLSX_MUTATIONS if good.suffix == ".xlsx" else CSV_MUTATIONS
    stem, suffix = good.name.rsplit(".", 1)
    out = []
    for n in range(MUTANTS):
        mutated = mutations[n % len(mutations)](rng, data)
        if mutated != data:
            out.append((f"{stem}_m{n}.{suffix}", mutated))
    return out


def test_no_mutant_of_a_good_file_breaks_the_batch(
    tmp_path: Path, partner_sftp: PartnerSFTP, warehouse_url: str, key: bytes, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    rng = random.Random(SEED)
    delivered: dict[str, tuple[str, str]] = {}  # remote name -> (partner, "good" | "mutant")
    personal: set[str] = set()
    for folder in sorted(GOOD.iterdir()):
        partner = folder.name
        (good,) = list(folder.iterdir())
        personal |= _personal_values(partner, good)
        for name, data in _mutants(partner, good, rng):
            (tmp_path / name).write_bytes(data)
            partner_sftp.upload(partner, tmp_path / name)
            delivered[name] = (partner, "mutant")
        partner_sftp.upload(partner, good)  # the good file last: it must load whatever came before it
        delivered[good.name] = (partner, "good")
    assert len(personal) > 20 and len(delivered) >= 5 * (MUTANTS - 1)

    outcomes: dict[str, dict] = {}
    for partner in sorted({p for p, _ in delivered.values()}):
        with partner_sftp.client(partner) as client:  # no exception may escape the task bodies
            outcomes |= {o["remote_name"]: o for o in run_intake(partner, client, warehouse_url, key)}
    assert set(outcomes) == set(delivered)

    with warehouse.connect(warehouse_url) as conn:
        staged = {
            r.file_id: int(r.n)
            for table in ("stg_arrears_snapshots", "stg_social_team_cases", "stg_sdd_records")
            for r in warehouse.read_frame(
                conn, f"SELECT file_id, count(*) AS n FROM {table} GROUP BY file_id"
            ).itertuples()
        }
    said = [json.dumps(outcomes, ensure_ascii=False), caplog.text]
    for name, (partner, role) in delivered.items():
        outcome = outcomes[name]
        home = partner_sftp.root / partner
        said.append((home / "outbox" / receipts.receipt_name(outcome)).read_text(encoding="utf-8"))
        assert outcome["status"] in ("loaded", "rejected", "duplicate"), name
        folder = "quarantine" if outcome["status"] == "rejected" else "processed"
        assert (home / folder / intake_settle.settled_name(outcome)).exists(), name
        if outcome["status"] == "rejected":
            assert staged.get(outcome["file_id"], 0) == 0 and outcome["reasons"], name
        elif outcome["status"] == "loaded":  # all of its accepted rows
            assert staged.get(outcome["file_id"], 0) == outcome["rows_loaded"] == outcome["rows_total"], name
        if role == "good":
            assert (outcome["status"], outcome["rows_loaded"]) == ("loaded", 3), name
    for partner in {p for p, _ in delivered.values()}:
        assert os.listdir(partner_sftp.root / partner / "inbox") == []
    leaked = sorted(v for v in personal if any(v in text for text in said))
    assert leaked == []
    rejected = [o for o in outcomes.values() if o["status"] == "rejected"]
    assert len(rejected) >= len(delivered) // 2  # the mutations did damage: most mutants are refused
