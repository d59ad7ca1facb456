"""``eviction-prevention link``: two CSV files of person records, pseudonymised and linked."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from eviction_prevention.link.engine import link
from eviction_prevention.pseudonymise.person_tokens import person_pseudonyms
from eviction_prevention.spreadsheet_safety import neutralised_frame

_CSV_ALIASES = {
    "house_suffix": "house_number_suffix",
    "suffix": "house_number_suffix",
    "toevoeging": "house_number_suffix",
    "letter": "house_letter",
    "first_name": "given_name",
    "given_names": "given_name",
    "last_name": "surname",
    "dob": "birth_date",
    "zip": "postcode",
    "zipcode": "postcode",
    # FEBRL's layout (address_2, state and soc_sec_id are not used)
    "rec_id": "record_id",
    "street_number": "house_number",
    "address_1": "street",
    "suburb": "city",
    "date_of_birth": "birth_date",
}


def _read_person_csv(path: Path) -> pd.DataFrame:
    """All columns as text, spaces around headers and cells stripped (FEBRL's ``", "`` separators), empty cells
    as None; ``;`` or ``,`` separated; UTF-8 (BOM ok) or cp1252."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            with open(path, encoding=encoding, newline="") as fh:
                header = fh.readline()
                fh.read()
            break
        except UnicodeDecodeError:
            continue
    sep = ";" if header.count(";") > header.count(",") else ","
    df = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding=encoding, quoting=csv.QUOTE_MINIMAL)
    df.columns = [str(c).strip().lower() for c in df.columns]
    df = df.rename(columns={k: v for k, v in _CSV_ALIASES.items() if k in df.columns and v not in df.columns})
    if "record_id" not in df.columns:
        df["record_id"] = [str(i) for i in range(len(df))]
    df = df.apply(lambda column: column.str.strip())
    df = df.astype(object).where(df.ne(""), None)
    return df


def link_csv(left_csv: Path, right_csv: Path, out_csv: Path, key: bytes) -> int:
    """Pseudonymise two person CSVs with ``key``, link them one-to-one, write ``out_csv``.

    Input columns: ``record_id`` and any of given_name, initials, prefix, surname, birth_date, street,
    house_number, house_letter, house_suffix, postcode, city, bsn (other columns are ignored; values are
    normalised, never rejected). The output has ``left_id,right_id,match_probability`` where the ids
    are the input ``record_id`` values (row ids, not personal data). Returns the number of pairs.
    """
    frames = []
    for path in (left_csv, right_csv):
        raw = _read_person_csv(Path(path))
        pseudo = person_pseudonyms(raw, key)
        pseudo.insert(0, "record_id", raw["record_id"].astype(object))
        frames.append(pseudo)
    pairs = link(frames[0], frames[1], left_id="record_id", right_id="record_id", one_to_one=True)
    out = Path(out_csv)
    out.parent.mkdir(parents=True, exist_ok=True)
    neutralised_frame(pairs).to_csv(out, index=False, float_format="%.6f")  # ids come from the input files
    return len(pairs)
