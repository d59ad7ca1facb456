"""splink 5 in clear text on a FEBRL file pair: the anchor ``make bench-linkage`` compares our linkage with.

splink gets the same records and the fields our side uses (given_name, surname, street_number, address_1,
suburb, postcode, date_of_birth; not address_2, state or soc_sec_id), in clear text, values stripped and
blanks as NULL, with a configuration after splink's own FEBRL example (``docs/demos/examples/duckdb/
febrl3``) and ``link_only`` example, strengthened where FEBRL's typos call for it:

* comparisons: ``NameComparison`` (exact, Jaro-Winkler 0.92 / 0.88 / 0.7) for given name and surname, term
  frequency adjusted; ``DateOfBirthComparison`` (exact, one edit, within a month / year / ten years);
  postcode exact or one edit, street number exact, street (address_1) and suburb Jaro-Winkler 0.9 /
  0.7, all with term frequencies on the exact level.
* blocking (predictions): given name, surname, date of birth, postcode, street, suburb, each alone; given
  name and surname swapped; the first two letters of both names with the birth year (typos everywhere).
* training, DuckDB backend: lambda from deterministic rules (names and date of birth, also swapped;
  recall 0.9, as splink's FEBRL example), u by random sampling (1e6 pairs), m by EM on two blocking rules
  (date of birth, postcode).
* decision: a pair is a link when ``match_probability >= 0.9`` (the threshold ours uses, chosen without
  ground truth). No one-to-one assignment on splink's side: splink does none itself, and its clustering
  would not make a pairwise linkage one-to-one either; ours is one-to-one (``link_csv``).

Time = wall seconds from building the linker to the predictions as a pandas frame (training and
prediction; reading the CSVs is left out). splink's log and any console output go to a log file.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

FIELDS: tuple[str, ...] = (
    "given_name", "surname", "street_number", "address_1", "suburb", "postcode", "date_of_birth",
)  # fmt: skip
ID = "rec_id"
THRESHOLD = 0.9


@dataclass(frozen=True)
class SplinkResult:
    pairs: pd.DataFrame  # left_id (file A), right_id (file B), match_probability
    seconds: float


def read_febrl(path: Path) -> pd.DataFrame:
    """``rec_id`` and the compared fields of a FEBRL-layout CSV, values stripped, blanks as None."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame[[ID, *FIELDS]].apply(lambda column: column.str.strip())
    return frame.astype(object).where(frame.ne(""), None)


def _settings() -> object:
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        unique_id_column_name=ID,
        link_type="link_only",
        blocking_rules_to_generate_predictions=[
            block_on("given_name"),
            block_on("surname"),
            block_on("date_of_birth"),
            block_on("postcode"),
            block_on("address_1"),
            block_on("suburb"),
            "l.given_name = r.surname and l.surname = r.given_name",
            block_on("substr(given_name, 1, 2)", "substr(surname, 1, 2)", "substr(date_of_birth, 1, 4)"),
        ],
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True, datetime_format="%Y%m%d"),
            cl.DamerauLevenshteinAtThresholds("postcode", [1]).configure(term_frequency_adjustments=True),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds("address_1", [0.9, 0.7]).configure(term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds("suburb", [0.9, 0.7]).configure(term_frequency_adjustments=True),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


@contextlib.contextmanager
def _quiet(log_file: Path) -> Iterator[None]:
    """splink's log records, and anything printed, into ``log_file`` instead of the console."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger("splink")
    handler = logging.FileHandler(log_file, encoding="utf-8")
    saved = (logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with (
            open(log_file, "a", encoding="utf-8") as sink,
            contextlib.redirect_stdout(sink),
            contextlib.redirect_stderr(sink),
        ):
            yield
    finally:
        logger.removeHandler(handler)
        handler.close()
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


def _oriented(predictions: pd.DataFrame, left_dataset: str) -> pd.DataFrame:
    """Predictions as (left_id, right_id, match_probability) with the left id from ``left_dataset``."""
    flip = predictions["source_dataset_l"] != left_dataset
    left = predictions[f"{ID}_l"].where(~flip, predictions[f"{ID}_r"])
    right = predictions[f"{ID}_r"].where(~flip, predictions[f"{ID}_l"])
    probability = predictions["match_probability"].to_numpy()
    return pd.DataFrame({"left_id": left.to_numpy(), "right_id": right.to_numpy(), "match_probability": probability})


def link(left: pd.DataFrame, right: pd.DataFrame, log_file: Path, threshold: float = THRESHOLD) -> SplinkResult:
    """Train splink on ``left`` and ``right`` (``read_febrl`` frames) and predict the pairs at ``threshold``."""
    import duckdb
    from splink import DuckDBAPI, Linker, block_on

    with _quiet(log_file):
        con = duckdb.connect()
        con.execute("SET enable_progress_bar = false")
        db = DuckDBAPI(connection=con)
        tables = [db.register(left, dataset_display_name="a"), db.register(right, dataset_display_name="b")]
        started = time.perf_counter()
        linker = Linker(tables, _settings(), log_level=logging.INFO)
        linker.training.estimate_probability_two_random_records_match(
            [
                block_on("given_name", "surname", "date_of_birth"),
                "l.given_name = r.surname and l.surname = r.given_name and l.date_of_birth = r.date_of_birth",
            ],
            recall=0.9,
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("postcode"))
        predictions = linker.inference.predict(threshold_match_probability=threshold).as_pandas_dataframe()
        seconds = time.perf_counter() - started
        con.close()
    return SplinkResult(_oriented(predictions, "a"), seconds)


def link_csv(left_csv: Path, right_csv: Path, log_file: Path) -> SplinkResult:
    return link(read_febrl(left_csv), read_febrl(right_csv), log_file)
