"""The sealed identity vault: each partner's own references, kept apart and unsealed only as a logged act.

Why. Every identifier in the warehouse is a keyed pseudonym, the partner's own contract, case and client
numbers included (``record_key``), so nobody who must act on a case can find it. The vault keeps, next to
each staged row, the reference as the partner delivered it, sealed, so the feedback step (and nothing else)
can tell a partner which of *its* cases a deadline concerns.

Where. ``{schema}_vault.partner_references`` (``warehouse.vault_schema``; DDL in ``sql/vault``): one row per
staged row (partner, file_id, source_row), replaced with the file's staging rows and deleted with them by
retention (``purge_orphans``). On PostgreSQL the schema is revoked from PUBLIC and granted to no role of
``access`` (analysts, coordinators); no model reads it.

Cipher. AES-SIV (RFC 5297, ``cryptography``'s ``AESSIV``, 512-bit key): authenticated and deterministic, so
rerunning an ingest writes the same bytes (AES-GCM or Fernet would write new ones each time, with a random
nonce). A seal reveals only that two rows of the same partner carry the same reference, which their
``record_key`` already says. The associated data binds a seal to ``root/{version}/partner_reference``
0x1F, the partner's code and kind, and the row's ``record_key``: a seal copied to another partner or
record does not open.

Key. The vault key (``settings.vault_key``: ``EVICTION_PREVENTION_VAULT_KEY`` or the Airflow Variable
``eviction_prevention_vault_key``) is a secret of its own, not the pseudonym key: whoever links or
pseudonymises cannot unseal. It is a key chain like the pseudonym key (``keys.parse_key_chain``: a plain
key is ``v1``; ``{"v1": "...", "v2": "..."}`` lists versions, the last current): rows carry the version
that sealed them and ``rotate`` reseals older rows under the current one. The AES-SIV key of version ``v``
is HKDF-SHA256 of that version's key with the label ``root/v/partner_reference``.

Unsealing. ``reidentify`` opens the references of one owner for one recipient and purpose, only when
``config/feedback.yaml`` lets that recipient receive that owner's references for that purpose
(``feedback_policy``), and writes a row to ``meta_reidentification_log`` (when, run, owner, recipient,
purpose, how many values; never a value) in the same transaction as its caller's work.
"""

from __future__ import annotations

import base64
import functools
import logging
from collections.abc import Iterable

import pandas as pd
import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from sqlalchemy.engine import Connection

from eviction_prevention import dutch_time, warehouse
from eviction_prevention.partners import get_partner
from eviction_prevention.pseudonymise import keys
from eviction_prevention.publish import feedback_policy

log = logging.getLogger(__name__)

FIELD = "partner_reference"  # the HKDF and associated-data label
KEY_BYTES = 64  # AES-256-SIV
TABLE = "partner_references"
COLUMNS = ["partner", "file_id", "source_row", "record_key", "key_version", "reference_seal"]


class VaultError(ValueError):
    """A seal that does not open, or an unsealing the policy does not allow. Never holds a value."""


def table(conn: Connection) -> str:
    return f"{warehouse.vault_schema(conn)}.{TABLE}"


@functools.lru_cache(maxsize=8)
def _cipher(key: bytes, version: str) -> AESSIV:
    return AESSIV(keys.derived_key(key, version, FIELD, KEY_BYTES))


@functools.lru_cache(maxsize=64)
def _context(version: str, partner: str) -> bytes:
    """The associated data's first component: the label under this key version, the partner and its kind."""
    return keys.domain_prefix(version, FIELD) + f"{partner}\x1f{get_partner(partner).kind}".encode()


def _associated(version: str, partner: str, record_key: str) -> list[bytes]:
    return [_context(version, partner), record_key.encode()]


def seal_references(
    references: Iterable[str], record_keys: Iterable[str], partner: str, chain: bytes | keys.KeyChain
) -> tuple[str, list[str]]:
    """Seal each reference (as delivered) of ``partner`` to its row's ``record_key`` under the chain's current
    version. Returns that version and the seals (base64 text)."""
    parsed = keys.parse_key_chain(chain)
    version = parsed.current
    cipher = _cipher(dict(parsed.versions)[version], version)
    seals = [
        base64.b64encode(cipher.encrypt(str(ref).encode("utf-8"), _associated(version, partner, rk))).decode("ascii")
        for ref, rk in zip(references, record_keys, strict=True)
    ]
    return version, seals


def open_reference(seal: str, version: str, partner: str, record_key: str, chain: bytes | keys.KeyChain) -> str:
    """The reference in one seal; ``VaultError`` (naming no value) when it does not open for this row."""
    known = dict(keys.parse_key_chain(chain).versions)
    if version not in known:
        raise VaultError(f"vault key version {version!r} is not in the vault key chain")
    try:
        plain = _cipher(known[version], version).decrypt(
            base64.b64decode(seal), _associated(version, partner, record_key)
        )
    except (InvalidTag, ValueError):
        raise VaultError(
            f"a reference of {partner} does not open under vault key version {version!r} "
            "(wrong key, a changed seal, or a seal moved to another partner or record)"
        ) from None
    return plain.decode("utf-8")


def vault_rows(
    partner: str, file_id: str, staged: pd.DataFrame, references: pd.Series, chain: bytes | keys.KeyChain
) -> pd.DataFrame:
    """The vault rows of staged rows (``source_row``, ``record_key``) whose references (aligned) are given."""
    version, seals = seal_references(references.astype(str).tolist(), staged["record_key"].tolist(), partner, chain)
    return pd.DataFrame(
        {
            "partner": partner,
            "file_id": file_id,
            "source_row": staged["source_row"].to_numpy(),
            "record_key": staged["record_key"].to_numpy(),
            "key_version": version,
            "reference_seal": seals,
        },
        columns=COLUMNS,
    )


def store(conn: Connection, partner: str, file_id: str, rows: Iterable[pd.DataFrame]) -> int:
    """Replace the vault rows of one file (rerunning gives the same rows)."""
    name = table(conn)
    warehouse.delete_rows(conn, name, {"partner": partner, "file_id": file_id})
    return sum(warehouse.insert_rows(conn, name, frame) for frame in rows)


def _log(conn: Connection, owner: str, recipient: str, purpose: str, run_id: str, count: int) -> None:
    conn.execute(
        sa.text(
            "INSERT INTO meta_reidentification_log (logged_at, dag_run, partner, recipient, purpose, values_unsealed) "
            "VALUES (:at, :run, :owner, :recipient, :purpose, :n)"
        ),
        {
            "at": dutch_time.utcnow(),
            "run": run_id,
            "owner": owner,
            "recipient": recipient,
            "purpose": purpose,
            "n": count,
        },
    )


def reidentify(
    conn: Connection,
    owner: str,
    record_keys: Iterable[str],
    *,
    recipient: str,
    purpose: str,
    run_id: str,
    chain: bytes | keys.KeyChain,
) -> dict[str, str]:
    """``owner``'s references of these records, for ``recipient``'s feedback under ``purpose``: record_key ->
    reference (records without a vault row are left out). Refused (``VaultError``) unless the feedback policy
    allows it; logged in ``meta_reidentification_log`` with the number of values unsealed."""
    if not feedback_policy.may_receive(recipient, owner, purpose):
        raise VaultError(f"{recipient} may not receive references of {owner} for {purpose!r}")
    parsed = keys.parse_key_chain(chain)
    wanted = set(record_keys)
    rows = conn.execute(
        sa.text(
            f"SELECT DISTINCT record_key, key_version, reference_seal FROM {table(conn)} WHERE partner = :owner "
            "ORDER BY record_key, key_version, reference_seal"
        ),
        {"owner": owner},
    ).all()
    found: dict[str, str] = {}
    for rk, version, seal in rows:
        if rk in wanted and rk not in found:
            found[rk] = open_reference(seal, version, owner, rk, parsed)
    _log(conn, owner, recipient, purpose, run_id, len(found))
    log.info("vault: %d reference(s) of %s unsealed for %s (%s)", len(found), owner, recipient, purpose)
    return found


def rotate(conn: Connection, chain: bytes | keys.KeyChain) -> int:
    """Reseal every row sealed under an older vault key version under the chain's current one (after a new
    version is appended to the vault key). Returns the rows resealed."""
    parsed = keys.parse_key_chain(chain)
    name = table(conn)
    old = warehouse.read_frame(
        conn, f"SELECT {', '.join(COLUMNS)} FROM {name} WHERE key_version <> :v", v=parsed.current
    )
    for partner, rows in old.groupby("partner", sort=True):
        references = [
            open_reference(r.reference_seal, r.key_version, str(partner), r.record_key, parsed)
            for r in rows.itertuples(index=False)
        ]
        version, seals = seal_references(references, rows["record_key"].tolist(), str(partner), parsed)
        # the partner's older rows replaced as a whole (no per-row UPDATE: the table has no index)
        conn.execute(
            sa.text(f"DELETE FROM {name} WHERE partner = :p AND key_version <> :v"), {"p": partner, "v": version}
        )
        warehouse.insert_rows(conn, name, rows.assign(key_version=version, reference_seal=seals))
    log.info("vault: %d reference(s) resealed under key version %s", len(old), parsed.current)
    return len(old)


def purge_orphans(conn: Connection, staging_tables: Iterable[str]) -> int:
    """Delete vault rows whose staging row is gone (retention deleted it): the vault keeps nothing longer."""
    live = " UNION ALL ".join(f"SELECT partner, file_id, source_row FROM {t}" for t in staging_tables)
    name = table(conn)
    condition = (
        f"NOT EXISTS (SELECT 1 FROM ({live}) AS s WHERE s.partner = v.partner AND s.file_id = v.file_id "
        "AND s.source_row = v.source_row)"
    )
    count = int(conn.execute(sa.text(f"SELECT count(*) FROM {name} AS v WHERE {condition}")).scalar_one())
    if count:
        conn.execute(sa.text(f"DELETE FROM {name} AS v WHERE {condition}"))
    log.info("retention %s: %d sealed reference(s) without staging rows deleted", TABLE, count)
    return count
