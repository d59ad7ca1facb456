"""Tests for the synthetic world generator (devtools.synthetic)."""

from __future__ import annotations

import csv
import fnmatch
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from eviction_prevention.parse import layouts
from eviction_prevention.partners import Partner, load_partners

from devtools import synthetic

SCALE = 0.2


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("synthetic")
    return out, synthetic.generate(out, scale=SCALE, seed=7)


def _partner(code: str) -> Partner:
    return next(p for p in load_partners() if p.code == code)


def _headers(partner: Partner) -> list[str]:
    return [partner.layout.columns[c.name] for c in layouts.columns(partner.kind) if c.name in partner.layout.columns]


def _truth(out: Path, name: str) -> list[dict[str, str]]:
    with open(out / "ground_truth" / name, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _read_csv(path: Path, partner: Partner) -> list[dict[str, str]]:
    with open(path, encoding=partner.layout.encoding, newline="") as fh:
        return list(csv.DictReader(fh, delimiter=partner.layout.delimiter))


def _parse_date(value: object, fmt: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    return datetime.strptime(str(value), fmt).date()


def _canonical_rows(path: Path, partner: Partner) -> list[dict[str, object]]:
    """A minimal reader for the tests: header -> canonical name, dates parsed."""
    inverse = {header: name for name, header in partner.layout.columns.items()}
    if partner.layout.format == "xlsx":
        ws = openpyxl.load_workbook(path, read_only=True)[partner.layout.sheet]
        values = list(ws.iter_rows(values_only=True))
        raw = [dict(zip(values[0], row, strict=True)) for row in values[1:]]
    else:
        raw = _read_csv(path, partner)
    types = {c.name: c.type for c in layouts.columns(partner.kind)}
    rows = []
    for r in raw:
        row = {inverse[k]: v for k, v in r.items()}
        for name, value in row.items():
            if types[name] == "date":
                row[name] = _parse_date(value, partner.layout.date_format)
        rows.append(row)
    return rows


def test_generation_is_deterministic(tmp_path: Path) -> None:
    first = synthetic.generate(tmp_path / "a", scale=0.1, seed=11, noise="high")
    second = synthetic.generate(tmp_path / "b", scale=0.1, seed=11, noise="high")
    assert first == second
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert files_a == files_b and len(files_a) == 6 * 3 + 2 + 3
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


def test_other_seed_differs(tmp_path: Path) -> None:
    synthetic.generate(tmp_path / "a", scale=0.05, seed=1)
    synthetic.generate(tmp_path / "b", scale=0.05, seed=2)
    name = "partners/sdd/sdd_klanten_2026-10-31.csv"
    assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "b" / name).read_bytes()


def test_rejects_unknown_noise_level(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        synthetic.generate(tmp_path, scale=0.05, noise="extreme")


def test_file_names_follow_partner_patterns(world: tuple[Path, dict]) -> None:
    out, summary = world
    for partner in load_partners():
        files = sorted((out / "partners" / partner.code).iterdir())
        assert files, partner.code
        assert all(fnmatch.fnmatch(f.name, partner.file_pattern) for f in files)
        expected = 6 if partner.kind == "corporation" else 1
        assert len(files) == expected
    assert summary["files"]["partners/trivire/huurachterstand_2026-05-31.csv"] > 0


def test_trivire_csv_layout(world: tuple[Path, dict]) -> None:
    out, _ = world
    partner = _partner("trivire")
    path = out / "partners/trivire/huurachterstand_2026-10-31.csv"
    raw = path.read_bytes()
    assert raw.count(b"\r\n") == raw.count(b"\n")
    with open(path, encoding="cp1252", newline="") as fh:
        header = fh.readline().rstrip("\r\n")
    assert header.split(";") == _headers(partner)
    rows = _read_csv(path, partner)
    assert all(r["Peildatum"] == "31-10-2026" for r in rows)
    assert any("." in r["Achterstand"] and "," in r["Achterstand"] for r in rows)  # 1.234,56
    assert {r["Kinderen in huishouden"] for r in rows} <= {"J", "N"}


def test_woonbron_csv_has_bom_and_iso_dates(world: tuple[Path, dict]) -> None:
    out, _ = world
    partner = _partner("woonbron")
    path = out / "partners/woonbron/arrears_2026-10-31.csv"
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" not in raw
    rows = _read_csv(path, partner)
    assert list(rows[0]) == _headers(partner)
    assert all(r["peildatum"] == "2026-10-31" for r in rows)
    assert {r["gezin_met_kinderen"] for r in rows} <= {"ja", "nee"}


def test_tablis_xlsx_layout(world: tuple[Path, dict]) -> None:
    out, _ = world
    partner = _partner("tablis")
    wb = openpyxl.load_workbook(out / "partners/tablis/Huurachterstanden_2026-10-31.xlsx")
    assert wb.sheetnames == ["Huurachterstanden"]
    ws = wb["Huurachterstanden"]
    rows = list(ws.iter_rows(values_only=True))
    assert list(rows[0]) == _headers(partner)
    col = {h: i for i, h in enumerate(rows[0])}
    assert all(isinstance(r[col["Peildatum"]], datetime) for r in rows[1:])
    assert all(isinstance(r[col["Saldo achterstand"]], float) for r in rows[1:])
    assert {r[col["Minderjarige kinderen"]] for r in rows[1:]} <= {"Ja", "Nee"}


def test_every_bsn_passes_the_eleven_test(world: tuple[Path, dict]) -> None:
    out, _ = world
    teams = _read_csv(out / "partners/sociale_teams/casussen_2026-10-31.csv", _partner("sociale_teams"))
    sdd = _read_csv(out / "partners/sdd/sdd_klanten_2026-10-31.csv", _partner("sdd"))
    bsns = [r["BSN"] for r in teams if r["BSN"]] + [r["bsn"] for r in sdd]
    assert all(r["bsn"] for r in sdd)
    assert 0.6 < sum(1 for r in teams if r["BSN"]) / len(teams) < 0.8
    assert bsns and all(synthetic.bsn_is_valid(b) for b in bsns)
    assert not synthetic.bsn_is_valid("123456789")
    assert synthetic.bsn_is_valid("111222333")


def test_initials() -> None:
    assert synthetic.initials_of("Johannes Pieter") == "J.P."
    assert synthetic.initials_of("Özlem") == "Ö."


def test_ground_truth_has_met_and_missed_for_both_deadlines(world: tuple[Path, dict]) -> None:
    out, _ = world
    cases = _truth(out, "cases.csv")
    reports = Counter(c["report_state"] for c in cases)
    analyses = Counter(c["analysis_state"] for c in cases)
    assert reports["met"] > 0 and reports["missed"] > 0
    assert analyses["met"] > 0 and analyses["missed"] > 0
    monthly = _truth(out, "compliance_monthly.csv")
    with_t0 = [c for c in cases if c["t0_date"]]
    assert sum(int(r["cases"]) for r in monthly) == len(with_t0)
    assert sum(int(r["below_threshold"]) for r in monthly) == len(cases) - len(with_t0) > 0
    assert sum(int(r["reported_on_time"]) for r in monthly) == reports["met"]
    assert sum(int(r["analysed_late"]) for r in monthly) == analyses["missed"]
    keys = [(r["corporation"], r["team"], r["month"]) for r in monthly]
    assert keys == sorted(keys)


def test_exact_deadline_days_count_as_met(world: tuple[Path, dict]) -> None:
    out, _ = world
    cases = _truth(out, "cases.csv")

    def days(a: str, b: str) -> int:
        return (date.fromisoformat(b) - date.fromisoformat(a)).days

    day_42 = [c for c in cases if c["reported_date"] and days(c["t0_date"], c["reported_date"]) == 42]
    assert day_42 and all(c["report_state"] == "met" for c in day_42)
    day_14 = [c for c in cases if c["analysis_sent_date"] and days(c["reported_date"], c["analysis_sent_date"]) == 14]
    assert day_14 and all(c["analysis_state"] == "met" for c in day_14)


def test_ground_truth_agrees_with_partner_files(world: tuple[Path, dict]) -> None:
    """Recompute the episodes from the rendered files and compare with cases.csv: an episode is a run of
    consecutive snapshots listing the tenancy; T0 the last delivered one (here every T0 is delivered once
    its date has passed), else the first snapshot with arrears >= the rent; closed on the next snapshot."""
    out, _ = world
    truth = {(c["corporation"], c["tenancy_ref"], c["first_seen"]): c for c in _truth(out, "cases.csv")}
    seen: dict[tuple[str, str, str], dict[str, object]] = {}
    for partner in (p for p in load_partners() if p.kind == "corporation"):
        paths = sorted((out / "partners" / partner.code).iterdir())
        dates = [date.fromisoformat(path.stem.rsplit("_", 1)[1]) for path in paths]
        current: dict[str, dict[str, object]] = {}
        for snapshot, path in zip(dates, paths, strict=True):
            rows = {str(r["tenancy_ref"]): r for r in _canonical_rows(path, partner)}
            for ref in [r for r in current if r not in rows]:
                current.pop(ref)["closed"] = snapshot
            for ref, row in rows.items():
                info = current.get(ref)
                if info is None:
                    info = current[ref] = {"first_seen": snapshot, "closed": None, "t0": None, "derived": None}
                    seen[(partner.code, ref, snapshot.isoformat())] = info
                info["t0"] = row["t0_date"] or info["t0"]
                if info["derived"] is None and row["arrears_amount"] >= row["monthly_rent"]:
                    info["derived"] = snapshot
                info["reported"] = row["reported_date"]
    assert set(seen) == set(truth)
    for key, info in seen.items():
        t = truth[key]
        t0 = info["t0"] or info["derived"]
        assert t["t0_date"] == (t0.isoformat() if t0 else "")
        assert t["closed_date"] == (info["closed"].isoformat() if info["closed"] else "")
        assert t["reported_date"] == (info["reported"].isoformat() if info["reported"] else "")
        if info["reported"] is not None:
            assert t["report_state"] == ("met" if info["reported"] <= t0 + timedelta(days=42) else "missed")
    assert any(not info["t0"] and not info["derived"] for info in seen.values())  # below the threshold


def test_analysis_dates_come_from_linked_social_team_case(world: tuple[Path, dict]) -> None:
    out, _ = world
    partner = _partner("sociale_teams")
    teams = {r["case_ref"]: r for r in _canonical_rows(out / "partners/sociale_teams/casussen_2026-10-31.csv", partner)}
    for c in _truth(out, "cases.csv"):
        if not c["reported_date"]:
            assert c["analysis_state"] == "not_applicable" and not c["social_team_case_ref"]
            continue
        st = teams[c["social_team_case_ref"]]
        assert st["report_received_date"].isoformat() == c["reported_date"]
        assert st["reporter"] == c["corporation"]
        assert st["team"] == c["team"]
        sent = st["analysis_sent_date"]
        assert c["analysis_sent_date"] == (sent.isoformat() if sent else "")


def test_persons_truth_covers_every_record(world: tuple[Path, dict]) -> None:
    out, _ = world
    persons = {(r["source"], r["record_ref"]): r["person_id"] for r in _truth(out, "persons.csv")}
    for partner in load_partners():
        ref_col = {"corporation": "tenancy_ref", "social_team": "case_ref", "sdd": "record_ref"}[partner.kind]
        for path in (out / "partners" / partner.code).iterdir():
            for row in _canonical_rows(path, partner):
                assert (partner.code, str(row[ref_col])) in persons
    social = [r for r in _truth(out, "persons.csv") if r["source"] == "sociale_teams"]
    assert len({r["person_id"] for r in social}) > 0.5 * len(social)


def test_noise_level_scales_error_count(tmp_path: Path) -> None:
    totals = {}
    for level in ("low", "default", "high"):
        summary = synthetic.generate(tmp_path / level, scale=0.1, seed=3, noise=level)
        totals[level] = sum(summary["noise_applied"].values())
    assert totals["low"] < totals["default"] < totals["high"]


def test_summary_holds_no_personal_data(world: tuple[Path, dict]) -> None:
    _, summary = world
    text = repr(summary)
    assert "@" not in text and "P0" not in text
    assert summary["cases"] > 100
