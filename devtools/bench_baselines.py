"""Baselines for ``bench``, on the same generated files.

* linkage: our Fellegi-Sunter linkage on pseudonyms (``engine.link``) against splink 5 (DuckDB backend)
  on the same records in clear text: the tenants of the corporations' latest snapshots against the SDD
  export. Both are timed from prepared frames to scored pairs; precision and recall at 0.9 use the
  generator's ``truth/*.csv``.
* CSV floor: DuckDB's CSV reader materialising the same CSV files, against our parse + pseudonymise.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

import pandas as pd
from eviction_prevention.parse.files import parse_file
from eviction_prevention.partners import Partner, load_partners
from eviction_prevention.pseudonymise import normalize as nz

THRESHOLD = 0.9


def _canonical(partner: Partner, path: Path, ref: str) -> pd.DataFrame:
    frame = parse_file(path, partner.layout, partner.kind).frame
    frame["id"] = partner.code + ":" + frame[ref].astype(str)
    return frame


def records(source: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tenants in each corporation's latest snapshot, and the SDD records (canonical, clear text)."""
    left, right = [], None
    for partner in load_partners():
        files = sorted((source / "partners" / partner.code).iterdir())
        if partner.kind == "corporation":
            left.append(_canonical(partner, files[-1], "tenancy_ref"))
        elif partner.kind == "sdd":
            right = _canonical(partner, files[-1], "record_ref")
            right["id"] = right["record_ref"].astype(str)
    return pd.concat(left, ignore_index=True), right


def truth_pairs(source: Path, left: pd.DataFrame, right: pd.DataFrame) -> set[tuple[str, str]]:
    def persons(name: str) -> dict[str, str]:
        with open(source / "truth" / name, encoding="utf-8") as fh:
            return {row["record_ref"]: row["person"] for row in csv.DictReader(fh)}

    tenants, sdd = persons("corporation.csv"), persons("sdd.csv")
    by_person: dict[str, list[str]] = {}
    for rid in right["id"]:
        by_person.setdefault(sdd[rid], []).append(rid)
    return {(lid, rid) for lid in left["id"] for rid in by_person.get(tenants.get(lid, ""), [])}


def quality(pairs: pd.DataFrame, truth: set[tuple[str, str]]) -> dict[str, float]:
    found = set(zip(pairs["left_id"], pairs["right_id"], strict=True))
    tp = len(found & truth)
    return {"precision": round(tp / len(found), 4) if found else 1.0,
            "recall": round(tp / len(truth), 4) if truth else 1.0}  # fmt: skip


def ours(left: pd.DataFrame, right: pd.DataFrame, key: bytes, truth: set) -> dict[str, Any]:
    from eviction_prevention.link import predict
    from eviction_prevention.pseudonymise.person_tokens import person_pseudonyms

    sides = []
    for frame in (left, right):
        pseudo = person_pseudonyms(frame, key)
        pseudo.insert(0, "id", frame["id"].to_numpy())
        sides.append(pseudo)
    started = time.perf_counter()
    scored = predict.score_pairs(sides[0], sides[1], left_id="id", right_id="id", exclusive=False)
    seconds = time.perf_counter() - started
    links = scored[scored["match_probability"] >= THRESHOLD].rename(columns={})
    return {"seconds": round(seconds, 3), "candidate_pairs": len(scored),
            "pairs_per_record": round(len(scored) / max(min(len(left), len(right)), 1), 2),
            **quality(links, truth)}  # fmt: skip


def clear_text(frame: pd.DataFrame) -> pd.DataFrame:
    """The fields splink compares, normalised the way our pseudonyms are (so both see the same values)."""

    def norm(func: Any, *cols: str) -> list[Any]:
        return [func(*vals) or None for vals in zip(*(frame[c].astype(object).tolist() for c in cols), strict=True)]

    out = pd.DataFrame({"unique_id": frame["id"].to_numpy()})
    out["surname"] = norm(lambda p, s: nz.split_prefix(p, s)[1], "prefix", "surname")
    out["initials"] = norm(nz.initials, "initials")
    out["birth_date"] = norm(lambda d: (nz.birth_date(d) or "") and nz.birth_date(d).isoformat(), "birth_date")
    out["postcode"] = norm(nz.postcode, "postcode")
    out["house"] = norm(nz.house, "house_number", "house_letter", "house_number_suffix")
    out["street"] = norm(nz.street, "street")
    return out


def splink(left: pd.DataFrame, right: pd.DataFrame, truth: set) -> dict[str, Any]:
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    rules = [block_on("birth_date"), block_on("postcode", "house"), block_on("surname", "substr(initials, 1, 1)"),
             block_on("street", "house"), block_on("surname", "substr(birth_date, 1, 4)")]  # fmt: skip
    settings = SettingsCreator(
        link_type="link_only",
        comparisons=[
            cl.JaroWinklerAtThresholds("surname", [0.95, 0.88]),
            cl.ExactMatch("initials"),
            cl.DateOfBirthComparison("birth_date", input_is_string=True),
            cl.ExactMatch("postcode"),
            cl.ExactMatch("house"),
            cl.ExactMatch("street"),
        ],
        blocking_rules_to_generate_predictions=rules,
    )
    lt, rt = clear_text(left), clear_text(right)
    started = time.perf_counter()
    db = DuckDBAPI()
    linker = Linker([db.register(lt), db.register(rt)], settings, log_level=30)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("birth_date"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("postcode", "house"))
    predictions = linker.inference.predict(threshold_match_probability=0.01).as_pandas_dataframe()
    seconds = time.perf_counter() - started
    links = predictions[predictions["match_probability"] >= THRESHOLD].rename(
        columns={"unique_id_l": "left_id", "unique_id_r": "right_id"}
    )
    return {"seconds": round(seconds, 3), "candidate_pairs_scored": len(predictions), **quality(links, truth)}


def linkage_baseline(source: Path, key: bytes) -> dict[str, Any]:
    left, right = records(source)
    truth = truth_pairs(source, left, right)
    result: dict[str, Any] = {"left_records": len(left), "right_records": len(right), "true_pairs": len(truth)}
    result["ours"] = ours(left, right, key, truth)
    try:
        result["splink"] = splink(left, right, truth)
    except ImportError:
        result["splink"] = {"error": "splink is not installed (uv sync installs it with the dev group)"}
        return result
    result["ours_over_splink"] = round(result["ours"]["seconds"] / result["splink"]["seconds"], 3)
    return result


def csv_floor(source: Path, ours_seconds: float) -> dict[str, Any]:
    """DuckDB reading every CSV file into a table (all columns as text), against our parse + pseudonymise."""
    import duckdb

    con = duckdb.connect()
    seconds = 0.0
    rows = 0
    for partner in load_partners():
        if partner.layout.format != "csv":
            continue
        encoding = "latin-1" if partner.layout.encoding.lower() in ("cp1252", "windows-1252") else "utf-8"
        for path in sorted((source / "partners" / partner.code).iterdir()):
            started = time.perf_counter()
            con.execute(
                "CREATE OR REPLACE TABLE t AS SELECT * FROM read_csv(?, delim = ?, header = true, all_varchar = true, "
                "encoding = ?)",
                [str(path), partner.layout.delimiter, encoding],
            )
            seconds += time.perf_counter() - started
            rows += con.execute("SELECT count(*) FROM t").fetchone()[0]
    return {
        "duckdb_seconds": round(seconds, 3),
        "rows": rows,
        "ours_parse_pseudonymise_seconds": round(ours_seconds, 3),
        "ours_over_duckdb": round(ours_seconds / seconds, 1) if seconds else None,
    }


def run_all(source: Path, ours_csv_seconds: float, key: bytes) -> dict[str, Any]:
    return {"csv_floor": csv_floor(source, ours_csv_seconds), "linkage": linkage_baseline(source, key)}
