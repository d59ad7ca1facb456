"""Runtime settings: where state lives, which warehouse, which pseudonymisation key.

Everything comes from the environment (or, for secrets inside Airflow, from an Airflow Variable);
nothing secret is in code. All runtime state lives under ``EVICTION_PREVENTION_HOME`` (default ``var/``).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO_ROOT / "config"
SQL_DIR = REPO_ROOT / "sql"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"

KEY_ENV = "EVICTION_PREVENTION_PSEUDONYM_KEY"
KEY_VARIABLE = "eviction_prevention_pseudonym_key"
VAULT_KEY_ENV = "EVICTION_PREVENTION_VAULT_KEY"
VAULT_KEY_VARIABLE = "eviction_prevention_vault_key"


def home() -> Path:
    return Path(os.environ.get("EVICTION_PREVENTION_HOME", REPO_ROOT / "var")).resolve()


def landing_dir() -> Path:
    return home() / "landing"


def warehouse_url() -> str:
    """``EVICTION_PREVENTION_WAREHOUSE_URL``, else the file named by ``EVICTION_PREVENTION_WAREHOUSE_URL_FILE``
    (a Docker secret; it holds a password, so it is not put in the environment), else the embedded DuckDB."""
    url = os.environ.get("EVICTION_PREVENTION_WAREHOUSE_URL")
    if not url and os.environ.get("EVICTION_PREVENTION_WAREHOUSE_URL_FILE"):
        url = Path(os.environ["EVICTION_PREVENTION_WAREHOUSE_URL_FILE"]).read_text(encoding="utf-8").strip()
    return url or f"duckdb:///{home() / 'warehouse.duckdb'}"


def duckdb_memory_limit() -> str:
    """DuckDB's buffer limit for the embedded warehouse (DuckDB's own default is 80% of the machine's RAM,
    which an Airflow worker shares with its other tasks; past the limit DuckDB spills to disk)."""
    return os.environ.get("EVICTION_PREVENTION_DUCKDB_MEMORY_LIMIT", "1.5GB")


def reference_date_override() -> str | None:
    """A fixed 'today' (yyyy-mm-dd) for deadline states; by default the latest snapshot date is used."""
    return os.environ.get("EVICTION_PREVENTION_REFERENCE_DATE") or None


class MissingKeyError(RuntimeError):
    pass


def _secret(env: str, variable: str, what: str) -> bytes:
    """A secret from the environment, else from the Airflow Variable. Never logged."""
    value = os.environ.get(env)
    if not value:
        try:
            from airflow.sdk import Variable

            value = Variable.get(variable, default=None)
        except Exception:  # outside an Airflow task there is no Variable backend
            value = None
    if not value:
        raise MissingKeyError(f"no {what}: set {env} or the Airflow Variable {variable}")
    return value.encode("utf-8")


def pseudonym_key() -> bytes:
    """The HMAC key (a key chain, see ``keys``)."""
    return _secret(KEY_ENV, KEY_VARIABLE, "pseudonymisation key")


def vault_key() -> bytes:
    """The identity vault's key (a key chain of its own, see ``identity_vault``): not the pseudonym key, so
    whoever may pseudonymise (or link) cannot unseal a partner's references."""
    return _secret(VAULT_KEY_ENV, VAULT_KEY_VARIABLE, "vault key")


def read_yaml(path: Path | str) -> Any:
    """A configuration file's YAML, safely loaded; parsed by libyaml when PyYAML has it (about ten times faster
    than the pure-Python parser: the statutory calendar alone took ~0.1 s of every publish run)."""
    with open(path, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@lru_cache(maxsize=1)
def municipalities() -> dict[str, dict]:
    data = read_yaml(CONFIG_DIR / "municipalities.yaml")
    return {m["name"]: m for m in data["municipalities"]}


def social_team_for(municipality: str) -> str | None:
    entry = municipalities().get(municipality)
    return entry["social_team"] if entry else None
