"""Validate canonical frames with the Great Expectations suites in ``expectations/``.

Each expectation carries ``meta.severity``: ``critical`` rejects the file, ``warning`` flags the rows.
GX is called directly (ephemeral context, pandas datasource). Results are turned into
:class:`~eviction_prevention.parsing.Issue` objects; GX's unexpected-value lists (which hold personal
data) are read for row numbers only and never logged or stored.
"""

from __future__ import annotations

import json
import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from eviction_prevention.parsing import Issue
from eviction_prevention.settings import EXPECTATIONS_DIR

log = logging.getLogger(__name__)

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

_MESSAGES = {
    "expect_column_values_to_not_be_null": "kolom '{header}' is leeg",
    "expect_compound_columns_to_be_unique": "dubbele regel: de combinatie {headers} komt meer dan eens voor",
    "expect_column_values_to_be_between": "kolom '{header}' heeft een waarde buiten het toegestane bereik{bounds}",
    "expect_column_values_to_match_regex": "kolom '{header}' heeft niet het verwachte formaat",
    "expect_column_values_to_be_in_set": "kolom '{header}' bevat een onbekende waarde",
}


def suite_path(kind: str) -> Path:
    return EXPECTATIONS_DIR / f"{kind}.json"


@lru_cache(maxsize=8)
def load_suite_definition(kind: str) -> dict[str, Any]:
    with open(suite_path(kind), encoding="utf-8") as fh:
        return json.load(fh)


@lru_cache(maxsize=1)
def _batch_definition():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("partner_files")
    return source.add_dataframe_asset("canonical").add_batch_definition_whole_dataframe("whole_file")


def _suite(kind: str):
    from great_expectations.core.expectation_suite import ExpectationSuite

    return ExpectationSuite(**json.loads(json.dumps(load_suite_definition(kind))))


def _bounds_text(kwargs: dict[str, Any], parameters: dict[str, Any]) -> str:
    def resolve(v: Any) -> Any:
        if isinstance(v, dict) and "$PARAMETER" in v:
            v = parameters.get(v["$PARAMETER"])
        if isinstance(v, pd.Timestamp):
            return v.strftime("%d-%m-%Y")
        if isinstance(v, float) and v.is_integer():
            return int(v)
        return v

    lo, hi = resolve(kwargs.get("min_value")), resolve(kwargs.get("max_value"))
    if lo is not None and hi is not None:
        return f" ({lo} tot en met {hi})"
    if hi is not None:
        return f" (uiterlijk {hi})"
    if lo is not None:
        return f" (minimaal {lo})"
    return ""


def _message(exp_type: str, kwargs: dict[str, Any], headers: dict[str, str], parameters: dict[str, Any]) -> str:
    column = kwargs.get("column")
    header = headers.get(column, column) if column else ""
    cols = kwargs.get("column_list") or []
    template = _MESSAGES.get(exp_type, "controle '{type}' op kolom '{header}' faalt")
    return template.format(
        header=header,
        headers=" + ".join(f"'{headers.get(c, c)}'" for c in cols),
        bounds=_bounds_text(kwargs, parameters),
        type=exp_type,
    )


def validate(
    frame: pd.DataFrame, kind: str, headers: dict[str, str], parameters: dict[str, Any] | None = None
) -> list[Issue]:
    """Run the suite of ``kind`` on ``frame`` (canonical columns + ``source_row``).

    ``headers`` maps canonical names to the partner's headers, so messages speak the partner's language.
    Returns one Issue per failing expectation and row (row = line number in the partner's file).
    """
    parameters = parameters or {}
    if frame.empty:
        return [Issue("no_rows", "het bestand bevat geen gegevensregels (alleen een kopregel)")]
    batch = _batch_definition().get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(
        _suite(kind),
        expectation_parameters=parameters,
        result_format={"result_format": "COMPLETE", "unexpected_index_column_names": ["source_row"]},
    )
    issues: list[Issue] = []
    for res in result.results:
        if res.success:
            continue
        config = res.expectation_config
        severity = (config.meta or {}).get("severity", "critical")
        message = _message(config.type, dict(config.kwargs), headers, parameters)
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
    return issues
