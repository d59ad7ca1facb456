"""Partner registry: who delivers what, where, when, and in which file layout (config/partners.yaml).

Adding a partner is a change to the YAML file only: its SFTP connection id, folders, file name patterns,
layout mapping, delivery cadence and window, upload-completion rule and limits all live there.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from eviction_prevention import settings
from eviction_prevention.parse import layouts

DEFAULT_REGISTRY = Path(__file__).resolve().parents[2] / "config" / "partners.yaml"

CADENCES = ("weekly", "monthly")
COMPLETION_RULES = ("stable", "done_marker")


@dataclass(frozen=True)
class Layout:
    format: str  # "csv" or "xlsx"
    columns: dict[str, str]  # canonical name -> partner header
    delimiter: str = ","
    encoding: str = "utf-8"
    sheet: str | None = None
    date_format: str = "%Y-%m-%d"
    decimal: str = "."
    thousands: str = ""
    true_values: tuple[str, ...] = ("ja",)
    false_values: tuple[str, ...] = ("nee",)


@dataclass(frozen=True)
class ReadLimits:
    """Hard limits on reading one file (``parse.sandbox``, ``parse.reader``): beyond any of them the file is rejected
    with a reason that names the limit."""

    seconds: float = 120  # wall time to read and type the file
    memory_mb: int = 2048  # address space the reader may add while reading it
    cells: int = 20_000_000  # rows x columns of the sheet or CSV (an .xlsx is checked before it is unpacked)
    unpacked_mb: int = 200  # an .xlsx's members, inflated


@dataclass(frozen=True)
class Delivery:
    """When files are due: one delivery per period (calendar month or ISO week) on which it reports,
    due at the latest ``window_days`` after the period ends. Periods are tracked from ``first_period``."""

    cadence: str = "monthly"
    window_days: int = 10
    first_period: dt.date | None = None


@dataclass(frozen=True)
class Completion:
    """When an inbox file counts as completely uploaded.

    ``stable``: its size and mtime are unchanged over ``polls`` listings ``poll_seconds`` apart.
    ``done_marker``: a marker file ``<name><marker_suffix>`` exists next to it (the partner writes it last).
    """

    rule: str = "stable"
    polls: int = 2
    poll_seconds: float = 2.0
    marker_suffix: str = ".done"


@dataclass(frozen=True)
class Partner:
    code: str
    name: str
    kind: str
    municipalities: tuple[str, ...]
    sftp_conn_id: str
    inbox: str
    file_patterns: tuple[str, ...]
    layout: Layout
    outbox: str = "outbox"
    processed: str = "processed"
    quarantine: str = "quarantine"
    delivery: Delivery = field(default_factory=Delivery)
    completion: Completion = field(default_factory=Completion)
    landing_retention_days: int = 400
    max_file_bytes: int = 50 * 1024 * 1024
    # Snapshots are full lists: a dropped row would look like a closed case, so by default one bad row
    # rejects the whole file. Set to false to load the good rows and report the bad ones.
    reject_file_on_row_errors: bool = True
    read_limits: ReadLimits = field(default_factory=ReadLimits)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def file_pattern(self) -> str:
        """The first (canonical) file name pattern, e.g. for generating example files."""
        return self.file_patterns[0]

    @property
    def cadence(self) -> str:
        return self.delivery.cadence


class RegistryError(ValueError):
    """The partner registry is inconsistent (unknown kind, unmapped required column, ...)."""


def _layout(raw: dict[str, Any]) -> Layout:
    raw = dict(raw)
    for key in ("true_values", "false_values"):
        if key in raw:
            raw[key] = tuple(str(v) for v in raw[key])
    return Layout(**raw)


def _delivery(code: str, raw: dict[str, Any] | None) -> Delivery:
    raw = dict(raw or {})
    if "first_period" in raw and raw["first_period"] is not None:
        raw["first_period"] = dt.date.fromisoformat(str(raw["first_period"]))
    delivery = Delivery(**raw)
    if delivery.cadence not in CADENCES:
        raise RegistryError(f"partner {code!r}: cadence must be one of {CADENCES}")
    if delivery.window_days < 0:
        raise RegistryError(f"partner {code!r}: window_days must be >= 0")
    return delivery


def _completion(code: str, raw: dict[str, Any] | None) -> Completion:
    completion = Completion(**dict(raw or {}))
    if completion.rule not in COMPLETION_RULES:
        raise RegistryError(f"partner {code!r}: completion rule must be one of {COMPLETION_RULES}")
    if completion.rule == "stable" and completion.polls < 2:
        raise RegistryError(f"partner {code!r}: the stable rule needs at least 2 polls")
    return completion


def _check_layout(code: str, kind: str, layout: Layout) -> None:
    if kind not in layouts.CANONICAL:
        raise RegistryError(f"partner {code!r}: unknown kind {kind!r}")
    known = {c.name for c in layouts.columns(kind)}
    unknown = set(layout.columns) - known
    if unknown:
        raise RegistryError(f"partner {code!r}: layout maps unknown columns {sorted(unknown)}")
    missing = [c.name for c in layouts.columns(kind) if c.required and c.name not in layout.columns]
    if missing:
        raise RegistryError(f"partner {code!r}: layout does not map required columns {missing}")


_KNOWN_KEYS = {
    "code",
    "name",
    "kind",
    "municipalities",
    "sftp_conn_id",
    "inbox",
    "outbox",
    "processed",
    "quarantine",
    "file_pattern",
    "file_patterns",
    "layout",
    "delivery",
    "completion",
    "landing_retention_days",
    "max_file_bytes",
    "reject_file_on_row_errors",
    "read_limits",
}


def _read_limits(code: str, raw: dict[str, Any] | None) -> ReadLimits:
    known = {f.name for f in dataclasses.fields(ReadLimits)}
    unknown = set(raw or {}) - known
    if unknown:
        raise RegistryError(f"{code}: unknown read_limits {sorted(unknown)}")
    limits = ReadLimits(**{k: (float(v) if k == "seconds" else int(v)) for k, v in (raw or {}).items()})
    if min(dataclasses.astuple(limits)) <= 0:
        raise RegistryError(f"{code}: read_limits must be positive")
    return limits


def _parse_partner(raw: dict[str, Any]) -> Partner:
    code = raw["code"]
    layout = _layout(raw["layout"])
    _check_layout(code, raw["kind"], layout)
    patterns = raw.get("file_patterns") or [raw["file_pattern"]]
    return Partner(
        code=code,
        name=raw["name"],
        kind=raw["kind"],
        municipalities=tuple(raw.get("municipalities", ())),
        sftp_conn_id=raw["sftp_conn_id"],
        inbox=raw.get("inbox", "inbox"),
        outbox=raw.get("outbox", "outbox"),
        processed=raw.get("processed", "processed"),
        quarantine=raw.get("quarantine", "quarantine"),
        file_patterns=tuple(str(p) for p in patterns),
        layout=layout,
        delivery=_delivery(code, raw.get("delivery")),
        completion=_completion(code, raw.get("completion")),
        landing_retention_days=int(raw.get("landing_retention_days", 400)),
        max_file_bytes=int(raw.get("max_file_bytes", 50 * 1024 * 1024)),
        reject_file_on_row_errors=bool(raw.get("reject_file_on_row_errors", True)),
        read_limits=_read_limits(code, raw.get("read_limits")),
        extra={k: v for k, v in raw.items() if k not in _KNOWN_KEYS},
    )


def parse_registry(data: dict[str, Any]) -> tuple[Partner, ...]:
    partners = tuple(_parse_partner(p) for p in data["partners"])
    codes = [p.code for p in partners]
    if len(set(codes)) != len(codes):
        raise RegistryError("partner codes must be unique")
    return partners


def registry_path() -> Path:
    return Path(os.environ.get("EVICTION_PREVENTION_PARTNERS", DEFAULT_REGISTRY))


@lru_cache(maxsize=4)
def _load(path: str) -> tuple[Partner, ...]:
    return parse_registry(settings.read_yaml(path))


def load_partners(path: Path | None = None) -> tuple[Partner, ...]:
    return _load(str(path or registry_path()))


def get_partner(code: str, path: Path | None = None) -> Partner:
    for partner in load_partners(path):
        if partner.code == code:
            return partner
    raise KeyError(f"unknown partner {code!r}")
