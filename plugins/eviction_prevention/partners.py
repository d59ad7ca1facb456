"""Partner registry: who delivers what, where, and in which file layout (config/partners.yaml)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from eviction_prevention import schema

DEFAULT_REGISTRY = Path(__file__).resolve().parents[2] / "config" / "partners.yaml"


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
class Partner:
    code: str
    name: str
    kind: str
    municipalities: tuple[str, ...]
    sftp_conn_id: str
    inbox: str
    file_pattern: str
    cadence: str
    layout: Layout
    extra: dict = field(default_factory=dict)


class RegistryError(ValueError):
    """The partner registry is inconsistent (unknown kind, unmapped required column, ...)."""


def _parse_partner(raw: dict) -> Partner:
    raw = dict(raw)
    layout_raw = dict(raw.pop("layout"))
    for key in ("true_values", "false_values"):
        if key in layout_raw:
            layout_raw[key] = tuple(str(v) for v in layout_raw[key])
    layout = Layout(**layout_raw)
    kind = raw["kind"]
    if kind not in schema.CANONICAL:
        raise RegistryError(f"partner {raw['code']!r}: unknown kind {kind!r}")
    known = {c.name for c in schema.columns(kind)}
    unknown = set(layout.columns) - known
    if unknown:
        raise RegistryError(f"partner {raw['code']!r}: layout maps unknown columns {sorted(unknown)}")
    missing = [c.name for c in schema.columns(kind) if c.required and c.name not in layout.columns]
    if missing:
        raise RegistryError(f"partner {raw['code']!r}: layout does not map required columns {missing}")
    known_keys = {"code", "name", "kind", "municipalities", "sftp_conn_id", "inbox", "file_pattern", "cadence"}
    return Partner(
        code=raw["code"],
        name=raw["name"],
        kind=kind,
        municipalities=tuple(raw.get("municipalities", ())),
        sftp_conn_id=raw["sftp_conn_id"],
        inbox=raw.get("inbox", "inbox"),
        file_pattern=raw["file_pattern"],
        cadence=raw.get("cadence", "monthly"),
        layout=layout,
        extra={k: v for k, v in raw.items() if k not in known_keys},
    )


def registry_path() -> Path:
    return Path(os.environ.get("EVICTION_PREVENTION_PARTNERS", DEFAULT_REGISTRY))


@lru_cache(maxsize=4)
def _load(path: str) -> tuple[Partner, ...]:
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    partners = tuple(_parse_partner(p) for p in data["partners"])
    codes = [p.code for p in partners]
    if len(set(codes)) != len(codes):
        raise RegistryError("partner codes must be unique")
    return partners


def load_partners(path: Path | None = None) -> tuple[Partner, ...]:
    return _load(str(path or registry_path()))


def get_partner(code: str, path: Path | None = None) -> Partner:
    for partner in load_partners(path):
        if partner.code == code:
            return partner
    raise KeyError(f"unknown partner {code!r}")


def partners_of_kind(kind: str, path: Path | None = None) -> list[Partner]:
    return [p for p in load_partners(path) if p.kind == kind]
