"""Validate canonical frames with the Great Expectations suites in ``expectations/``.

Each expectation carries ``meta.severity``: ``critical`` rejects the file, ``warning`` flags the rows.
GX is called directly (ephemeral context, pandas datasource). Results are turned into
:class:`~eviction_prevention.parse.issues.Issue` objects; GX's unexpected-value lists (which hold personal
data) are read for row numbers only and never logged or stored.

Checks that need history (row count against the previous delivery, as-of date against the last one
loaded) and the clock (no dates in the future) are expectations too, fed through suite parameters
(see :func:`suite_parameters`). The BSN 11-test is a custom expectation registered here.

Data Docs: :func:`build_data_docs` renders the suites and the validation results under
``var/gx/data_docs/``; the results are scrubbed to counts first, so the site never shows a value.

Speed (issue 7): GX's cost is mostly per expectation and per metric, so a suite runs in two passes.
The first asks for counts only (``BASIC``); only the expectations that fail run again with ``COMPLETE``
to get their row numbers. The suite objects are built once per process, and the frame handed to GX
holds only the columns the suite checks, with numpy dtypes where GX would otherwise compare value by
value in Python (see :func:`gx_frame`).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
import os
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from eviction_prevention import settings
from eviction_prevention.parse.issues import Issue
from eviction_prevention.pseudonymise.normalize import bsn_numbers_valid, bsn_valid
from eviction_prevention.settings import EXPECTATIONS_DIR

if TYPE_CHECKING:
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResult,
        ExpectationValidationResult,
    )

log = logging.getLogger(__name__)

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

ROW_COUNT_SWING = 0.5  # a delivery with over 50% more or fewer rows than the previous one is flagged
DOCS_SITE = "eviction_prevention"

# First pass: counts only (all the Data Docs keep, see ``scrubbed``), no values, no row numbers.
_COUNTS_FORMAT: dict[str, Any] = {"result_format": "BASIC", "partial_unexpected_count": 0}
# Second pass, failing expectations only: every failing row's ``source_row``.
_ROWS_FORMAT: dict[str, Any] = {
    "result_format": "COMPLETE",
    "unexpected_index_column_names": ["source_row"],
    "return_unexpected_index_query": False,
}

_MESSAGES = {
    "expect_column_values_to_not_be_null": "kolom '{header}' is leeg",
    "expect_compound_columns_to_be_unique": "dubbele regel: de combinatie {headers} komt meer dan eens voor",
    "expect_column_values_to_be_between": "kolom '{header}' heeft een waarde buiten het toegestane bereik{bounds}",
    "expect_column_values_to_match_regex": "kolom '{header}' heeft niet het verwachte formaat",
    "expect_column_values_to_be_in_set": "kolom '{header}' bevat een onbekende waarde",
    "expect_column_values_to_pass_bsn11_test": "kolom '{header}' bevat geen geldig BSN (voldoet niet aan de elfproef)",
    "expect_column_min_to_be_between": (
        "kolom '{header}' ligt vóór de datum van de laatst verwerkte levering{bounds}; "
        "het bestand geldt als late levering"
    ),
    "expect_table_row_count_to_be_between": (
        "het aantal regels ({observed}) wijkt meer dan 50% af van de vorige levering ({previous_rows} regels)"
    ),
    "expect_table_columns_to_match_set": "een verplichte kolom ontbreekt",
}
# Messages chosen by an expectation's ``meta.message`` (GX resolves parameters before we see the kwargs).
_NAMED_MESSAGES = {
    "in_future": "kolom '{header}' ligt in de toekomst (na {today})",
    "too_old": "kolom '{header}' ligt te ver in het verleden (voor {min_as_of}): controleer de datum",
}
# The plausible window of the dates in a file: the file's own date (snapshot or export) at most AS_OF_YEARS
# before today; its facts (arrears, contacts, reports, judgments, closings) at most FACT_YEARS before it, and
# what may be planned (an eviction, a first conversation, a service's end) at most PLANNED_YEARS after it.
AS_OF_YEARS = 5
FACT_YEARS = 30
PLANNED_YEARS = 2


def bsn_passes_11_test(value: object) -> bool:
    """The Dutch BSN 11-test on a cell of 9 digits (or 8: a spreadsheet dropped the leading zero).

    Stricter than normalize.bsn_valid about the text (digits only), the same 11-test rule.
    """
    text = str(value).strip()
    return text.isdigit() and len(text) in (8, 9) and bsn_valid(text)


_PLAIN_BSN = r"[0-9]{8,9}"


def bsn_column_passes_11_test(column: pd.Series) -> pd.Series:
    """:func:`bsn_passes_11_test` on a whole column, the same True/False for every value.

    Values of 8 or 9 ASCII digits (nearly all) are tested as integer arrays with numpy; any other
    value (spaces, other characters, a column that is not text) goes through the scalar function.
    """
    if not isinstance(column.dtype, pd.StringDtype):
        return column.map(bsn_passes_11_test).astype(bool)
    plain = column.str.fullmatch(_PLAIN_BSN).fillna(False).astype(bool)
    passes = pd.Series(False, index=column.index)
    passes[plain] = bsn_numbers_valid(column[plain].astype("int64").to_numpy())
    if not plain.all():
        passes[~plain] = column[~plain].map(bsn_passes_11_test).astype(bool)
    return passes


@lru_cache(maxsize=1)
def register_custom_expectations() -> None:
    """Register ``expect_column_values_to_pass_bsn11_test`` with GX (once per process)."""
    from great_expectations.execution_engine import PandasExecutionEngine
    from great_expectations.expectations.expectation import ColumnMapExpectation
    from great_expectations.expectations.metrics import ColumnMapMetricProvider, column_condition_partial

    class ColumnValuesPassBsn11Test(ColumnMapMetricProvider):
        condition_metric_name = "column_values.pass_bsn11_test"

        @column_condition_partial(engine=PandasExecutionEngine)
        def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
            return bsn_column_passes_11_test(column)

    class ExpectColumnValuesToPassBsn11Test(ColumnMapExpectation):
        """Each non-null value is a BSN that passes the 11-test (elfproef)."""

        map_metric = "column_values.pass_bsn11_test"
        success_keys = ("mostly",)

    globals()["ExpectColumnValuesToPassBsn11Test"] = ExpectColumnValuesToPassBsn11Test


def suite_path(kind: str) -> Path:
    return EXPECTATIONS_DIR / f"{kind}.json"


@lru_cache(maxsize=8)
def load_suite_definition(kind: str) -> dict[str, Any]:
    with open(suite_path(kind), encoding="utf-8") as fh:
        return json.load(fh)


def _expectation_id(kind: str, index: int) -> str:
    """A fixed id for the expectation at ``index`` in the suite of ``kind`` (GX requires a UUID)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"eviction_prevention/expectations/{kind}.json#{index}"))


@lru_cache(maxsize=64)
def _validation_suite(kind: str, indices: tuple[int, ...] | None = None) -> ExpectationSuite:
    """The suite of ``kind`` (or only its expectations at ``indices``), built once per process.

    Each expectation gets a fixed id (:func:`_expectation_id`), so a result can be traced back to its
    expectation (the second, row-number pass runs only the failing ones).
    """
    from great_expectations.core.expectation_suite import ExpectationSuite

    register_custom_expectations()
    definition = copy.deepcopy(load_suite_definition(kind))
    expectations = definition.pop("expectations")
    wanted = range(len(expectations)) if indices is None else indices
    chosen = [expectations[i] | {"id": _expectation_id(kind, i)} for i in wanted]
    return ExpectationSuite(**definition, expectations=chosen)


@lru_cache(maxsize=1)
def _batch_definition():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    register_custom_expectations()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("partner_files")
    return source.add_dataframe_asset("canonical").add_batch_definition_whole_dataframe("whole_file")


def _suite(kind: str) -> ExpectationSuite:
    """A fresh suite object (for the Data Docs store, which takes ownership of what it is given)."""
    from great_expectations.core.expectation_suite import ExpectationSuite

    register_custom_expectations()
    return ExpectationSuite(**copy.deepcopy(load_suite_definition(kind)))


def _gx_column(column: pd.Series) -> pd.Series:
    dtype = column.dtype
    if isinstance(dtype, np.dtype) and dtype.kind == "M" and dtype != np.dtype("datetime64[ns]"):
        try:
            return column.astype("datetime64[ns]")
        except (pd.errors.OutOfBoundsDatetime, OverflowError):
            return column  # a date before 1677 or after 2262: GX compares it value by value
    if isinstance(column.array, pd.arrays.IntegerArray | pd.arrays.FloatingArray):
        return column.astype("float64" if column.hasnans else dtype.numpy_dtype)
    return column


@lru_cache(maxsize=8)
def suite_columns(kind: str) -> frozenset[str]:
    """The columns the suite of ``kind`` names, plus ``source_row`` (the row numbers of the issues)."""
    named = {"source_row"}
    for expectation in load_suite_definition(kind)["expectations"]:
        kwargs = expectation["kwargs"]
        named.update(kwargs.get("column_set", []), kwargs.get("column_list", []), [kwargs.get("column")])
    return frozenset(named - {None})


def gx_frame(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    """The part of ``frame`` that the suite of ``kind`` checks, with dtypes that GX compares as arrays.

    Only the suite's columns: GX fingerprints the whole frame it is given and copies all its columns
    for each check of a column with empty cells. A column the suite names but the frame lacks stays
    missing (its checks fail as before). The values and the nulls are unchanged, but GX 1.x's pandas
    ``column_values.between`` is vectorised only for numpy ``int``/``float`` and ``datetime64[ns]``:
    parsing gives ``datetime64[s]`` and nullable ``Int64``/``Float64``, which GX would compare value
    by value in Python (most of the suite's cost at 1M rows).
    """
    wanted = suite_columns(kind)
    columns = {name: _gx_column(frame[name]) for name in frame.columns if name in wanted}
    return pd.DataFrame(columns, index=frame.index, copy=False)


def _validate(
    frame: pd.DataFrame, suite: ExpectationSuite, parameters: dict[str, Any], result_format: dict[str, Any]
) -> ExpectationSuiteValidationResult:
    """One GX validation run of ``suite`` on ``frame``.

    What ``Batch.validate`` does, without first loading a batch that it then discards (GX fingerprints
    every batch it loads by hashing the whole frame).
    """
    from great_expectations.validator.v1_validator import Validator

    validator = Validator(
        batch_definition=_batch_definition(),
        batch_parameters={"dataframe": frame},
        result_format=copy.deepcopy(result_format),
    )
    return validator.validate_expectation_suite(suite, expectation_parameters=parameters)


def _failed(res: ExpectationValidationResult) -> bool:
    return not res.success and not (res.exception_info and res.exception_info.get("raised_exception"))


def _with_failing_rows(
    frame: pd.DataFrame, kind: str, result: ExpectationSuiteValidationResult, parameters: dict[str, Any]
) -> ExpectationSuiteValidationResult:
    """``result`` with the results of its failing expectations replaced by ``COMPLETE`` ones (row numbers)."""
    failing = [i for i, res in enumerate(result.results) if _failed(res)]
    if not failing:
        return result
    index = {expectation.id: i for i, expectation in enumerate(_validation_suite(kind).expectations)}
    indices = tuple(sorted(index[result.results[i].expectation_config.id] for i in failing))
    rows = _validate(frame, _validation_suite(kind, indices), parameters, _ROWS_FORMAT)
    by_id = {res.expectation_config.id: res for res in rows.results}
    for i in failing:
        result.results[i] = by_id[result.results[i].expectation_config.id]
    return result


@dataclass(frozen=True)
class History:
    """What was loaded before for this partner (from the ledger)."""

    last_as_of: dt.date | None = None
    previous_rows: int | None = None


def suite_parameters(as_of: pd.Series, history: History, today: dt.date) -> dict[str, Any]:
    """Parameters for the suites: the as-of date bounds, today, and the row-count band around the previous file."""
    today_ts = pd.Timestamp(today)
    file_as_of = as_of.max() if as_of.notna().any() else today_ts
    min_as_of = today_ts - pd.DateOffset(years=AS_OF_YEARS)
    anchor = min(max(file_as_of, min_as_of), today_ts)  # an implausible as-of date is rejected on its own
    params: dict[str, Any] = {
        "max_date": min(file_as_of, today_ts),  # facts may not lie after the as-of date, nor in the future
        "today": today_ts,
        "min_as_of": min_as_of,
        "min_date": anchor - pd.DateOffset(years=FACT_YEARS),
        "max_planned": anchor + pd.DateOffset(years=PLANNED_YEARS),
        "last_as_of": pd.Timestamp(history.last_as_of) if history.last_as_of else pd.Timestamp("1900-01-01"),
        "previous_rows": history.previous_rows,
        "min_rows": 0,
        "max_rows": 10**9,
    }
    if history.previous_rows:
        params["min_rows"] = int(history.previous_rows * (1 - ROW_COUNT_SWING))
        params["max_rows"] = int(history.previous_rows * (1 + ROW_COUNT_SWING)) + 1
    return params


def _resolve(value: Any, parameters: dict[str, Any]) -> Any:
    if isinstance(value, dict) and "$PARAMETER" in value:
        value = parameters.get(value["$PARAMETER"])
    if isinstance(value, pd.Timestamp | dt.date):
        return value.strftime("%d-%m-%Y")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _bounds_text(kwargs: dict[str, Any], parameters: dict[str, Any]) -> str:
    lo, hi = _resolve(kwargs.get("min_value"), parameters), _resolve(kwargs.get("max_value"), parameters)
    if lo is not None and hi is not None:
        return f" ({lo} tot en met {hi})"
    if hi is not None:
        return f" (uiterlijk {hi})"
    if lo is not None:
        return f" (minimaal {lo})"
    return ""


def _message(
    exp_type: str,
    kwargs: dict[str, Any],
    headers: dict[str, str],
    parameters: dict[str, Any],
    observed: Any = None,
    name: str | None = None,
) -> str:
    column = kwargs.get("column")
    header = headers.get(column, column) if column else ""
    cols = kwargs.get("column_list") or []
    default = _MESSAGES.get(exp_type, "controle '{type}' op kolom '{header}' faalt")
    template = _NAMED_MESSAGES.get(name or "", default)
    return template.format(
        header=header,
        headers=" + ".join(f"'{headers.get(c, c)}'" for c in cols),
        bounds=_bounds_text(kwargs, parameters),
        type=exp_type,
        observed=observed,
        previous_rows=parameters.get("previous_rows"),
        today=_resolve(parameters.get("today"), parameters),
        min_as_of=_resolve(parameters.get("min_as_of"), parameters),
    )


@dataclass
class ValidationReport:
    issues: list[Issue]
    result: Any = None  # the GX ExpectationSuiteValidationResult (holds values: never log or store as is)
    notes: dict[str, Any] = field(default_factory=dict)


def run_suite(
    frame: pd.DataFrame, kind: str, headers: dict[str, str], parameters: dict[str, Any] | None = None
) -> ValidationReport:
    """Run the suite of ``kind`` on ``frame`` (canonical columns + ``source_row``).

    ``headers`` maps canonical names to the partner's headers, so messages speak the partner's language.
    Returns one Issue per failing expectation and row (row = line number in the partner's file).
    """
    parameters = parameters or {}
    if frame.empty:
        return ValidationReport([Issue("no_rows", "het bestand bevat geen gegevensregels (alleen een kopregel)")])
    checked = gx_frame(frame, kind)
    result = _validate(checked, _validation_suite(kind), parameters, _COUNTS_FORMAT)
    result = _with_failing_rows(checked, kind, result, parameters)
    issues: list[Issue] = []
    for res in result.results:
        if res.success:
            continue
        config = res.expectation_config
        severity = (config.meta or {}).get("severity", "critical")
        observed = res.result.get("observed_value") if config.kwargs.get("column") is None else None
        meta = config.meta or {}
        message = _message(config.type, dict(config.kwargs), headers, parameters, observed, meta.get("message"))
        if res.exception_info and res.exception_info.get("raised_exception"):
            issues.append(Issue("validation_error", f"controle kon niet worden uitgevoerd: {message}"))
            continue
        rows = sorted({int(item["source_row"]) for item in res.result.get("unexpected_index_list") or []})
        column = config.kwargs.get("column")
        if not rows:
            issues.append(Issue(config.type, message, column=column, severity=severity))
        for row in rows:
            issues.append(Issue(config.type, f"regel {row}: {message}", row=row, column=column, severity=severity))
    log.info(
        "validated %s rows against suite %s: %d failing expectations",
        len(frame),
        kind,
        sum(1 for r in result.results if not r.success),
    )
    return ValidationReport(issues, result)


def validate(
    frame: pd.DataFrame, kind: str, headers: dict[str, str], parameters: dict[str, Any] | None = None
) -> list[Issue]:
    return run_suite(frame, kind, headers, parameters).issues


# ------------------------------------------------------------------------------------------------ Data Docs

_SAFE_RESULT_KEYS = ("element_count", "unexpected_count", "unexpected_percent", "missing_count", "missing_percent")


def scrubbed(result: Any, identifier_columns: set[str]) -> Any:
    """A copy of a GX suite result with counts only: no unexpected values, no observed identifier values."""
    clean = copy.deepcopy(result)
    for res in clean.results:
        column = res.expectation_config.kwargs.get("column")
        kept = {k: v for k, v in (res.result or {}).items() if k in _SAFE_RESULT_KEYS}
        observed = (res.result or {}).get("observed_value")
        if (column is None or column not in identifier_columns) and observed is not None:
            kept["observed_value"] = str(observed)
        res.result = kept
        res.exception_info = {"raised_exception": False, "exception_message": None, "exception_traceback": None}
    return clean


def docs_dir() -> Path:
    return settings.home() / "gx" / "data_docs"


def build_data_docs(results: list[tuple[str, str, Any]]) -> Path:
    """Render the suites and scrubbed ``(kind, run_name, result)`` entries into the Data Docs site.

    Returns the path of the site's ``index.html``. Earlier runs' pages stay (the site is a folder of files).
    """
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    register_custom_expectations()
    target = docs_dir()
    target.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="ephemeral")
    context.add_data_docs_site(
        site_name=DOCS_SITE,
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(target)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    for kind in sorted({k for k, _, _ in results} | {p.stem for p in EXPECTATIONS_DIR.glob("*.json")}):
        context.suites.add(_suite(kind))
    run_time = dt.datetime.now(dt.UTC)
    for kind, run_name, result in results:
        key = ValidationResultIdentifier(
            ExpectationSuiteIdentifier(kind), RunIdentifier(run_name, run_time), run_name.rsplit("-", 1)[-1]
        )
        context.validation_results_store.set(key, result)
    context.build_data_docs(site_names=[DOCS_SITE])
    return target / "index.html"
