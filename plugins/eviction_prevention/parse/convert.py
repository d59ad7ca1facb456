"""Convert a table of texts to the canonical layout's types: the common shapes a column at a time
(``Jansen``, ``1.234,56``, ``31-10-2026``), every other value once per distinct value through the per-value
rules; type errors as issues that never quote an identifier's value.
"""

from __future__ import annotations

import datetime as dt
import re
import string
from collections.abc import Callable

import numpy as np
import pandas as pd

from eviction_prevention.parse import layouts
from eviction_prevention.partners import Layout

try:  # pandas' string backend; without it every text is converted by the per-value rules
    import pyarrow as pa
except ImportError:  # pragma: no cover - pyarrow is installed wherever the tests run
    pa = None

from eviction_prevention.parse.issues import VISIBLE_ASCII, Issue, ParseResult
from eviction_prevention.parse.values import (
    PLAIN_WHOLE_NUMBERS,
    as_openpyxl,
    grouped_pattern,
    parse_bool,
    parse_date,
    parse_decimal,
    parse_int,
    parse_str,
)

_FORMULA_RE = re.compile(r"^\s*(?:[=@\t\r]|[+-]\s*[A-Za-z(])")

_DUTCH_DATE_HINT = {"%d-%m-%Y": "dd-mm-jjjj", "%Y-%m-%d": "jjjj-mm-dd"}

_ANSWER_WORDS = frozenset(
    ("ja", "nee", "j", "n", "y", "yes", "no", "true", "false", "waar", "onwaar", "wel", "niet", "geen", "x", "-", "?",
     "misschien", "onbekend", "nvt", "n.v.t.", "nb", "n.b.", "leeg", "null", "none", "nan",
     "#n/a", "#value!", "#ref!", "#div/0!", "#name?", "#num!", "#null!")  # and Excel's error values
)  # fmt: skip


_DATE_LIKE = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")
_PHONE_LIKE = re.compile(r"^\s*(\+|0)[\d\s-]{8,}$")


def _shown(raw: object, kind: str) -> str:
    """How a rejected cell of an attribute column of type ``kind`` is quoted: as it is when it cannot name a
    person, else only its length. In a file whose columns are shifted, a date, number or yes/no column can hold a
    surname, an e-mail address, a phone number or a birth date. Quoted: at most 20 characters of digits and
    separators (not a phone number, and a date only in a date column), or a yes/no-like word."""
    text = str(raw)
    plain = len(text) <= 20 and not re.search(r"[^\W\d_]", text)
    personal = bool(_PHONE_LIKE.match(text)) or (kind != "date" and bool(_DATE_LIKE.search(text)))
    if (plain and not personal) or (len(text) <= 20 and text.strip().lower() in _ANSWER_WORDS):
        return f" '{text}'"
    return f" (een tekst van {len(text)} tekens)"


def _type_error_message(col: layouts.Column, header: str, row: int, raw: object, layout: Layout) -> str:
    shown = _shown(raw, col.type) if col.role == "attribute" else ""
    if col.type == "date":
        if col.role == "attribute" and _looks_like_impossible_date(raw, layout.date_format):
            return f"regel {row}: datum{shown} in kolom '{header}' bestaat niet"
        hint = _DUTCH_DATE_HINT.get(layout.date_format, layout.date_format)
        return f"regel {row}: kolom '{header}' bevat geen geldige datum{shown} (verwacht {hint})"
    if col.type in ("float", "int"):
        return f"regel {row}: kolom '{header}' bevat geen geldig getal{shown}"
    if col.type == "bool":
        options = "/".join([*layout.true_values[:1], *layout.false_values[:1]])
        return f"regel {row}: kolom '{header}' bevat geen geldige ja/nee-waarde{shown} (verwacht {options})"
    return f"regel {row}: kolom '{header}' bevat een ongeldige waarde"


def _looks_like_impossible_date(raw: object, fmt: str) -> bool:
    """The value has the agreed date shape (e.g. dd-mm-jjjj) but is no calendar date, like 31-02-2026."""
    shape = re.escape(fmt).replace("%d", r"\d{2}").replace("%m", r"\d{2}").replace("%Y", r"\d{4}")
    return bool(re.fullmatch(shape, str(raw).strip()))


def convert(frame: pd.DataFrame, layout: Layout, kind: str) -> ParseResult:
    """Rename partner headers to canonical names and type every value; collect issues."""
    issues: list[Issue] = list(frame.attrs.get("issues", []))
    present = set(frame.columns)
    header_issues = _unknown_header_issues(list(frame.columns), layout)
    header_row = any(i.code == "header_row" for i in header_issues)
    if not header_row:  # else every agreed column is missing, and the "headers" are data
        for col in layouts.columns(kind):
            header = layout.columns.get(col.name)
            if col.required and (header is None or header not in present):
                issues.append(Issue("missing_column", f"kolom '{header or col.name}' ontbreekt", column=col.name))
    issues += header_issues
    if not header_row and len(set(frame.columns)) != len(frame.columns):
        issues.append(Issue("duplicate_column", "een kolomnaam komt meer dan eens voor"))
    if any(i.severity == "critical" for i in issues):
        return ParseResult(pd.DataFrame(), issues)

    out: dict[str, pd.api.extensions.ExtensionArray] = {}
    n_rows = len(frame)
    for col in layouts.columns(kind):
        header = layout.columns.get(col.name)
        if header is None or header not in present:
            cells = pd.Series([None] * n_rows, dtype=object)
        else:
            cells = frame[header].reset_index(drop=True)
        out[col.name] = _convert_column(cells, col, header, layout, issues)
    result = pd.DataFrame(out)
    result["source_row"] = range(2, n_rows + 2)
    return ParseResult(result, issues)


def _unknown_header_issues(headers: list[str], layout: Layout) -> list[Issue]:
    """Data minimisation: only the agreed columns may be delivered. A header that is not agreed is named by its
    position only: it is text from the file, and in a file without its header row (or with another template's)
    it is the first data row, a person's name or e-mail address."""
    agreed = set(layout.columns.values())
    unknown = [n for n, h in enumerate(headers, start=1) if h not in agreed]
    if not unknown:
        return []
    if len(agreed & set(headers)) < len(agreed) / 2:
        expected = ", ".join(f"'{h}'" for h in list(layout.columns.values())[:4])
        return [
            Issue(
                "header_row",
                "de eerste regel heeft niet de afgesproken kolomnamen: de kopregel ontbreekt of komt uit een ander "
                f"sjabloon (verwacht onder meer {expected})",
            )
        ]
    return [
        Issue("unknown_column", f"kolom {n} is niet afgesproken; lever alleen de afgesproken kolommen aan")
        for n in unknown
    ]


_FORMULA = object()  # markers: the value is a formula / not of the column's type
_BAD_TYPE = object()
_PANDAS_TYPES = {"str": "string", "int": "Int64", "float": "Float64", "bool": "boolean", "date": "datetime64[s]"}


def _convert_one(raw: object, col: layouts.Column, layout: Layout) -> object:
    """The typed value of one cell, or a marker saying why it has none."""
    if col.type == "str" and isinstance(raw, str) and _FORMULA_RE.match(raw):
        return _FORMULA
    try:
        return _convert_value(raw, col, layout)
    except (ValueError, TypeError):
        return _BAD_TYPE


def _convert_column(
    cells: pd.Series, col: layouts.Column, header: str | None, layout: Layout, issues: list[Issue]
) -> pd.api.extensions.ExtensionArray:
    """The typed column; a cell without a value is reported in row order, as the partner reads the file.

    Dates and yes/no values repeat a lot: those columns are converted one distinct value at a time.
    """
    if col.type not in ("date", "bool"):
        values, failures = _convert_cells(cells, col, layout)
        failed_rows = [(row, *failures[row]) for row in sorted(failures)]
    else:
        codes, distinct = _factorize(cells)
        distinct_values, failures = _convert_cells(distinct, col, layout)
        values = pd.concat([pd.Series(distinct_values), _missing(1, col)], ignore_index=True).array
        values = values.take(np.where(codes < 0, len(distinct), codes))
        rows = np.flatnonzero(np.isin(codes, list(failures))) if failures else []
        failed_rows = [(row, *failures[codes[row]]) for row in rows]
    for row, raw, marker in failed_rows:
        line = int(row) + 2
        if marker is _FORMULA:
            issues.append(_formula_issue(header, line, col.name))
        else:
            message = _type_error_message(col, header, line, raw, layout)
            issues.append(Issue("type", message, row=line, column=col.name, severity="row"))
    return values


_Failures = dict[int, tuple[object, object]]  # position -> (the value as the rules read it, marker)


def _convert_cells(
    cells: pd.Series, col: layouts.Column, layout: Layout
) -> tuple[pd.api.extensions.ExtensionArray, _Failures]:
    """The typed value of each cell and the cells that have none: in bulk where that is proven to give what the
    rules give (see _convert_in_bulk), else by the rules, once per distinct value."""
    values, proven = _convert_in_bulk(cells, col, layout)
    by_rule = np.flatnonzero(~proven)
    if not len(by_rule):
        return values, {}
    codes, distinct = _factorize(cells.iloc[by_rule])
    raws = [as_openpyxl(v) for v in distinct]
    converted = [_convert_one(raw, col, layout) for raw in raws]
    failed = {
        code: (raws[code], value) for code, value in enumerate(converted) if value is _FORMULA or value is _BAD_TYPE
    }
    typed = _typed([None if code in failed else value for code, value in enumerate(converted)] + [None], col)
    values[by_rule] = typed.take(np.where(codes < 0, len(distinct), codes))
    failing = np.flatnonzero(np.isin(codes, list(failed))) if failed else []
    return values, {int(by_rule[i]): failed[codes[i]] for i in failing}


def _typed(values: list, col: layouts.Column) -> pd.api.extensions.ExtensionArray:
    return pd.Series(values, dtype=object).astype(_PANDAS_TYPES[col.type]).array


def _missing(n: int, col: layouts.Column) -> pd.Series:
    return pd.Series(index=range(n), dtype=_PANDAS_TYPES[col.type])


def _factorize(cells: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Codes (-1 for a missing cell) and distinct values of a column, with True, 1 and 1.0 kept apart.

    pandas compares cells with ==, under which True == 1 == 1.0; a spreadsheet column can hold more than
    one of them and they convert differently (``str(True)`` is ``'True'``), so a cell equal to 0 or 1 is
    grouped by its type as well.
    """
    if cells.dtype != object:
        codes, uniques = pd.factorize(cells.array)
        return codes, pd.Series(uniques)
    values = cells.to_numpy()
    codes, uniques = pd.factorize(values)
    distinct = list(uniques)
    for code in [c for c, v in enumerate(distinct) if type(v) in (bool, int, float) and v in (0, 1)]:
        added: dict[type, int] = {type(distinct[code]): code}
        for row in np.flatnonzero(codes == code):
            kind = type(values[row])
            if kind not in added:
                added[kind] = len(distinct)
                distinct.append(values[row])
            codes[row] = added[kind]
    return codes, pd.Series(distinct, dtype=object)


def _formula_issue(header: str | None, line: int, column: str) -> Issue:
    return Issue(
        "formula",
        f"regel {line}: kolom '{header}' begint met een formule (=, +, -, @); formules zijn niet toegestaan",
        row=line,
        column=column,
    )


def _convert_value(raw: object, col: layouts.Column, layout: Layout) -> object:
    if col.type == "date":
        return parse_date(raw, layout.date_format)
    if col.type == "float":
        return parse_decimal(raw, layout.decimal, layout.thousands)
    if col.type == "int":
        return parse_int(raw)
    if col.type == "bool":
        return parse_bool(raw, layout)
    return parse_str(raw)


# Bulk conversion of texts. Each step returns the typed values (missing where it proves nothing) and which texts
# it proves: a proven text is one for which the rules would give that same value.
_Bulk = tuple[pd.api.extensions.ExtensionArray, np.ndarray]


def _convert_in_bulk(cells: pd.Series, col: layouts.Column, layout: Layout) -> _Bulk:
    """Typed values and which cells they are proven for: texts (see _convert_texts) and the spreadsheet
    numbers and dates of a column of that type; the rest is left to the rules."""
    if cells.dtype != object:
        return _convert_texts(cells, col, layout)
    values, proven = _missing(len(cells), col).array, np.zeros(len(cells), dtype=bool)
    objects = cells.to_numpy()
    kinds = np.fromiter(map(type, objects), dtype=object, count=len(objects))
    for kind, step in _CELL_STEPS.items():
        at = np.flatnonzero(kinds == kind)
        if len(at):
            kind_values, kind_proven = step(objects[at], col, layout)
            values[at[kind_proven]] = kind_values[kind_proven]
            proven[at] = kind_proven
    return values, proven


def _text_cells(texts: np.ndarray, col: layouts.Column, layout: Layout) -> _Bulk:
    return _convert_texts(pd.Series(texts.tolist(), dtype="str"), col, layout)


def _number_cells(numbers: np.ndarray, col: layouts.Column, layout: Layout) -> _Bulk:
    """Excel numbers in a number column. The rules read them as openpyxl gave them (see as_openpyxl):
    parse_decimal gives the float (0.0 for -0.0, which openpyxl read as the int 0); parse_int gives the
    whole numbers from 0 that openpyxl read as an int."""
    numbers = numbers.astype(np.float64)
    if col.type == "float":
        return pd.array(numbers + 0.0, dtype=_PANDAS_TYPES["float"]), np.ones(len(numbers), dtype=bool)
    if col.type == "int":
        proven = (numbers == np.floor(numbers)) & (numbers >= 0) & (numbers < PLAIN_WHOLE_NUMBERS)
        whole = np.where(proven, numbers, 0).astype(np.int64)
        return pd.array(whole, dtype=_PANDAS_TYPES["int"]), proven
    return _missing(len(numbers), col).array, np.zeros(len(numbers), dtype=bool)


def _date_cells(dates: np.ndarray, col: layouts.Column, layout: Layout) -> _Bulk:
    """Excel date cells in a date column: parse_date keeps the day."""
    if col.type != "date":
        return _missing(len(dates), col).array, np.zeros(len(dates), dtype=bool)
    days = np.array(dates.tolist(), dtype="datetime64[us]").astype("datetime64[D]")
    return pd.array(days.astype("datetime64[s]")), np.ones(len(dates), dtype=bool)


_CELL_STEPS: dict[type, Callable[[np.ndarray, layouts.Column, Layout], _Bulk]] = {
    str: _text_cells,
    float: _number_cells,
    dt.date: _date_cells,
    dt.datetime: _date_cells,
}


def _convert_texts(texts: pd.Series, col: layouts.Column, layout: Layout) -> _Bulk:
    """An empty text is blank (no value, in any column); the others as far as a step of _BULK proves them."""
    empty = (texts == "").to_numpy(dtype=bool)
    if col.type not in _BULK:
        return _missing(len(texts), col).array, empty
    values, proven = _BULK[col.type](texts, layout)
    return values, proven | empty


# No blank or formula: starts with an ASCII letter or digit, ends with a visible ASCII character.
_PLAIN_TEXT = rf"[0-9A-Za-z](?s:.*{VISIBLE_ASCII})?"
_PLAIN_FIRST_BYTE = np.isin(np.arange(256), [ord(c) for c in string.ascii_letters + string.digits])
_PLAIN_LAST_BYTE = (np.arange(256) >= ord("!")) & (np.arange(256) <= ord("~"))


def _plain_texts(texts: pd.Series) -> np.ndarray:
    """Which texts are _PLAIN_TEXT. For pyarrow strings that is read off their first and last UTF-8 byte (every
    byte of a non-ASCII character is 0x80 or more, so never plain): a fraction of the pattern's cost."""
    if pa is None or not isinstance(texts.array, pd.arrays.ArrowStringArray):
        return texts.str.fullmatch(_PLAIN_TEXT).to_numpy(dtype=bool)
    plain = [np.zeros(0, dtype=bool)]
    for chunk in pa.chunked_array(pa.array(texts.array)).chunks:
        _, offsets, data = chunk.buffers()
        width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
        ends = np.frombuffer(offsets, dtype=width)[chunk.offset : chunk.offset + len(chunk) + 1]
        filled = np.diff(ends) > 0
        if not filled.any():
            plain.append(filled)
            continue
        data = np.frombuffer(data, dtype=np.uint8)
        first = _PLAIN_FIRST_BYTE[data[np.where(filled, ends[:-1], 0)]]
        last = _PLAIN_LAST_BYTE[data[np.where(filled, ends[1:] - 1, 0)]]
        plain.append(filled & first & last & ~chunk.is_null().to_numpy(zero_copy_only=False))
    return np.concatenate(plain)


def _bulk_str(texts: pd.Series, layout: Layout) -> _Bulk:
    plain = _plain_texts(texts)  # parse_str gives these as they are
    return texts.where(plain).astype(_PANDAS_TYPES["str"]).array, plain


def _bulk_float(texts: pd.Series, layout: Layout) -> _Bulk:
    """parse_decimal's steps; a text that then is ASCII digits with an optional sign and point had no space,
    euro sign or Unicode digit, which parse_decimal would treat differently."""
    numbers = texts
    proven = np.ones(len(texts), dtype=bool)
    if layout.thousands:  # parse_decimal's grouping check: the whole part grouped by three, never 123.45
        grouped = numbers.str.contains(layout.thousands, regex=False).to_numpy(dtype=bool)
        whole = numbers if layout.decimal == layout.thousands else numbers.str.split(layout.decimal, n=1).str[0]
        proven &= ~grouped | whole.str.fullmatch(grouped_pattern(layout.thousands)).to_numpy(dtype=bool)
        numbers = numbers.str.replace(layout.thousands, "", regex=False)
    if layout.decimal != ".":
        proven &= ~numbers.str.contains(".", regex=False).to_numpy(dtype=bool)
        numbers = numbers.str.replace(layout.decimal, ".", regex=False)
    proven &= numbers.str.fullmatch(r"-?[0-9]+(\.[0-9]+)?").to_numpy(dtype=bool)
    return numbers.where(proven).astype(_PANDAS_TYPES["float"]).array, proven


def _bulk_int(texts: pd.Series, layout: Layout) -> _Bulk:
    proven = texts.str.fullmatch("[0-9]{1,18}").to_numpy(dtype=bool)
    return texts.where(proven).astype(_PANDAS_TYPES["int"]).array, proven


_DATE_FIELD_WIDTHS = {"d": 2, "m": 2, "Y": 4}


def _date_fields(fmt: str) -> tuple[str, dict[str, int]] | None:
    """For a format of %d, %m and %Y (once each) between literal characters: the pattern of its texts in ASCII
    digits and where each field starts. None for other formats (those go through strptime only)."""
    pattern, starts, position = "", {}, 0
    for token in re.findall("%.?|.", fmt, flags=re.DOTALL):
        if token.startswith("%"):
            name = token[1:]
            if name not in _DATE_FIELD_WIDTHS or name in starts:
                return None
            starts[name] = position
            pattern += f"[0-9]{{{_DATE_FIELD_WIDTHS[name]}}}"
            position += _DATE_FIELD_WIDTHS[name]
        elif token.isspace():  # strptime lets a space stand for any run of whitespace
            return None
        else:
            pattern += re.escape(token)
            position += 1
    return (pattern, starts) if len(starts) == len(_DATE_FIELD_WIDTHS) else None


def _bulk_date(texts: pd.Series, layout: Layout) -> _Bulk:
    """Texts in the agreed shape whose numbers make a calendar date (strptime refuses the others)."""
    dates = np.full(len(texts), np.datetime64("NaT"), dtype="datetime64[s]")
    proven = np.zeros(len(texts), dtype=bool)
    fields = _date_fields(layout.date_format)
    if fields is None:
        return pd.array(dates), proven
    pattern, starts = fields
    shaped = np.flatnonzero(texts.str.fullmatch(pattern).to_numpy(dtype=bool))
    year, month, day = (
        texts.iloc[shaped].str.slice(starts[f], starts[f] + _DATE_FIELD_WIDTHS[f]).astype("Int64").to_numpy(np.int64)
        for f in ("Y", "m", "d")
    )
    months = (year - 1970).astype("datetime64[Y]").astype("datetime64[M]") + (month - 1)
    first_day = months.astype("datetime64[D]")
    month_length = ((months + 1).astype("datetime64[D]") - first_day).astype(np.int64)
    valid = (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= month_length)
    dates[shaped[valid]] = first_day[valid] + (day[valid] - 1)
    proven[shaped[valid]] = True
    return pd.array(dates), proven


_BULK: dict[str, Callable[[pd.Series, Layout], _Bulk]] = {
    "str": _bulk_str,
    "float": _bulk_float,
    "int": _bulk_int,
    "date": _bulk_date,
}
