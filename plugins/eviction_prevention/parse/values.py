"""The per-value rules: a Dutch date, a decimal with comma or point, an integer, a yes/no, a text."""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd

from eviction_prevention.partners import Layout


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value)) or str(value).strip() == ""


def parse_date(value: object, fmt: str) -> dt.date | None:
    """A date from a text in the partner's format, or from an Excel date cell. Raises ValueError."""
    if _is_blank(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.datetime.strptime(str(value).strip(), fmt).date()


def grouped_pattern(thousands: str) -> str:
    """The pattern of a whole number written with thousands separators: 1.234 or 12.345.678, never 123.45."""
    return rf"-?[0-9]{{1,3}}(?:{re.escape(thousands)}[0-9]{{3}})+"


def parse_decimal(value: object, decimal: str, thousands: str) -> float | None:
    """A number like ``1.234,56`` (decimal comma) or ``1234.56``. Raises ValueError."""
    if _is_blank(value):
        return None
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip().replace("\u20ac", "").replace(" ", "")
    if thousands and thousands in text:
        whole = text.split(decimal, 1)[0] if decimal != thousands else text
        if not re.fullmatch(grouped_pattern(thousands), whole):  # "123.45" in a decimal-comma file is not 12.345
            raise ValueError(text)
        text = text.replace(thousands, "")
    if decimal != ".":
        if "." in text:
            raise ValueError(text)
        text = text.replace(decimal, ".")
    if not re.fullmatch(r"-?\d+(\.\d+)?", text):
        raise ValueError(text)
    return float(text)


def parse_int(value: object) -> int | None:
    if _is_blank(value):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = str(value).strip()
    if not re.fullmatch(r"\d+", text):
        raise ValueError(text)
    return int(text)


def parse_bool(value: object, layout: Layout) -> bool | None:
    if _is_blank(value):
        return None
    text = str(value).strip().casefold()
    if text in {v.casefold() for v in layout.true_values}:
        return True
    if text in {v.casefold() for v in layout.false_values}:
        return False
    raise ValueError(text)


def parse_str(value: object) -> str | None:
    if _is_blank(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


# Words a partner writes in a yes/no, number or date column that say nothing about a person: quoted back as they are.


PLAIN_WHOLE_NUMBERS = 1e16  # Excel and openpyxl write smaller whole numbers as plain digits


def as_openpyxl(value: object) -> object:
    """A cell value as openpyxl gave it, which the rules and their messages were written against: calamine reads a
    whole number as a float (Excel writes it without a decimal point: an int to openpyxl) and a date cell as a date
    (a datetime to openpyxl). Other values, and all CSV texts, are the same either way."""
    if isinstance(value, float) and value.is_integer() and abs(value) < PLAIN_WHOLE_NUMBERS:
        return int(value)
    if type(value) is dt.date:
        return dt.datetime(value.year, value.month, value.day)
    return value
