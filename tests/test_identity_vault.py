"""The sealed identity vault: partners' own references kept sealed beside staging, unsealed only for whom
config/feedback.yaml allows, every unsealing logged; on DuckDB and PostgreSQL, files delivered over SFTP."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from eviction_prevention import cli, warehouse
from eviction_prevention.operate import retention
from eviction_prevention.pseudonymise import identity_vault, keys

from tests.conftest import TEST_VAULT_KEY, PartnerSFTP, run_intake
from tests.fixtures.build_corpus import arrears_rows, csv_bytes, social_team_rows

pytestmark = pytest.mark.sftp

VAULT = TEST_VAULT_KEY.encode()


def deliver(tmp_path: Path, partner_sftp: PartnerSFTP, url: str, key: bytes) -> None:
    """Trivire's file (TRV-00001..3 on lines 2-4) and the social teams' (ST-00001..3), through SFTP."""
    for code, name, data in (
        ("trivire", "huurachterstand_2026-10-31.csv", csv_bytes("trivire", arrears_rows("TRV"))),
        ("sociale_teams", "casussen_2026-10-31.csv", csv_bytes("sociale_teams", social_team_rows())),
    ):
        path = tmp_path / name
        path.write_bytes(data)
        partner_sftp.upload(code, path)
        with partner_sftp.client(code) as client:
            (outcome,) = run_intake(code, client, url, key)
        assert outcome["status"] == "loaded", outcome["reasons"]


def record_keys_by_line(conn, table: str, partner: str) -> dict[int, str]:
    rows = conn.execute(sa.text(f"SELECT source_row, record_key FROM {table} WHERE partner = :p"), {"p": partner})
    return {int(line): rk for line, rk in rows}


def test_each_staged_row_has_its_reference_sealed_and_nothing_in_clear(
    tmp_path: Path, partner_sftp: PartnerSFTP, warehouse_url: str, key: bytes
):
    deliver(tmp_path, partner_sftp, warehouse_url, key)
    with warehouse.connect(warehouse_url) as conn:
        vault = identity_vault.table(conn)
        sealed = warehouse.read_frame(conn, f"SELECT * FROM {vault} ORDER BY partner, source_row")
        assert sealed[["partner", "source_row"]].values.tolist() == [
            ["sociale_teams", 2], ["sociale_teams", 3], ["sociale_teams", 4],
            ["trivire", 2], ["trivire", 3], ["trivire", 4],
        ]  # fmt: skip
        assert set(sealed["key_version"]) == {"v1"}
        # the reference is in no column of any table, the vault's included
        schemas = ["main", "main_vault"] if conn.dialect.name == "duckdb" else None
        base = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
        schemas = schemas or [base, f"{base}_vault"]
        tables = conn.execute(
            sa.text("SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema IN (:a, :b)"),
            {"a": schemas[0], "b": schemas[1]},
        ).all()
        assert (schemas[1], "partner_references") in tables
        for schema, name in tables:
            frame = warehouse.read_frame(conn, f"SELECT * FROM {schema}.{name}")
            text = [str(v) for v in frame.to_numpy().ravel()]
            assert not [v for v in text if "TRV-0" in v or "ST-0" in v], f"{schema}.{name}"


def test_a_partner_gets_back_exactly_its_own_references_and_the_log_says_so(
    tmp_path: Path, partner_sftp: PartnerSFTP, warehouse_url: str, key: bytes
):
    deliver(tmp_path, partner_sftp, warehouse_url, key)
    with warehouse.connect(warehouse_url) as conn:
        trivire = record_keys_by_line(conn, "stg_arrears_snapshots", "trivire")
        teams = record_keys_by_line(conn, "stg_social_team_cases", "sociale_teams")
        own = identity_vault.reidentify(
            conn, "trivire", trivire.values(), recipient="trivire", purpose="terugkoppeling_corporatie",
            run_id="run-1", chain=VAULT,
        )  # fmt: skip
        # line n of the file carried TRV-0000(n-1): each record gets the reference of its own line
        assert own == {trivire[line]: f"TRV-{line - 1:05d}" for line in (2, 3, 4)}
        two = [teams[2], teams[4]]
        cases = identity_vault.reidentify(
            conn, "sociale_teams", two, recipient="sociale_teams", purpose="terugkoppeling_sociaal_team",
            run_id="run-1", chain=VAULT,
        )  # fmt: skip
        assert cases == {teams[2]: "ST-00001", teams[4]: "ST-00003"}
        # a social team receives a corporation's contract number only for a reported case without a case
        reported = identity_vault.reidentify(
            conn, "trivire", [trivire[2]], recipient="sociale_teams", purpose="melding_zonder_casus",
            run_id="run-2", chain=VAULT,
        )  # fmt: skip
        assert reported == {trivire[2]: "TRV-00001"}
        refused = [
            ("trivire", "woonbron", "terugkoppeling_corporatie"),  # another corporation's contract numbers
            ("trivire", "sociale_teams", "terugkoppeling_corporatie"),  # the right owner, the wrong purpose
            ("sociale_teams", "trivire", "terugkoppeling_corporatie"),  # a corporation never gets case numbers
            ("sociale_teams", "sdd", "terugkoppeling_sociaal_team"),
            ("trivire", "sdd", "melding_zonder_casus"),  # the SDD receives no references at all
            ("sdd", "sociale_teams", "melding_zonder_casus"),  # nor are its client numbers sent anywhere
        ]
        for owner, recipient, purpose in refused:
            with pytest.raises(identity_vault.VaultError):
                identity_vault.reidentify(
                    conn, owner, trivire.values(), recipient=recipient, purpose=purpose, run_id="run-3", chain=VAULT
                )
        log = conn.execute(
            sa.text(
                "SELECT dag_run, partner, recipient, purpose, values_unsealed FROM meta_reidentification_log "
                "ORDER BY logged_at, purpose"
            )
        ).all()
    assert [tuple(r) for r in log] == [
        ("run-1", "trivire", "trivire", "terugkoppeling_corporatie", 3),
        ("run-1", "sociale_teams", "sociale_teams", "terugkoppeling_sociaal_team", 2),
        ("run-2", "trivire", "sociale_teams", "melding_zonder_casus", 1),
    ]  # a refused unsealing opened nothing and logged nothing


def test_a_seal_opens_only_with_its_key_for_its_own_partner_and_record(
    tmp_path: Path, partner_sftp: PartnerSFTP, warehouse_url: str, key: bytes
):
    deliver(tmp_path, partner_sftp, warehouse_url, key)
    with warehouse.connect(warehouse_url) as conn:
        rows = conn.execute(
            sa.text(f"SELECT record_key, key_version, reference_seal FROM {identity_vault.table(conn)} "
                    "WHERE partner = 'trivire' ORDER BY source_row")
        ).all()  # fmt: skip
    (rk1, v, seal1), (rk2, _, _), _ = rows
    assert identity_vault.open_reference(seal1, v, "trivire", rk1, VAULT) == "TRV-00001"
    cases = [
        (seal1, "trivire", rk1, b"another-vault-key"),  # wrong key (the pseudonym key, say)
        (seal1, "trivire", rk2, VAULT),  # moved to another record
        (seal1, "woonbron", rk1, VAULT),  # moved to another partner
        (seal1[:-4] + ("AAAA" if seal1[-4:] != "AAAA" else "BBBB"), "trivire", rk1, VAULT),  # changed
    ]
    for seal, partner, record, chain in cases:
        with pytest.raises(identity_vault.VaultError) as raised:
            identity_vault.open_reference(seal, v, partner, record, chain)
        assert "TRV" not in str(raised.value) and rk1 not in str(raised.value)


def test_the_vault_key_rotates_without_losing_a_reference(
    tmp_path: Path, partner_sftp: PartnerSFTP, warehouse_url: str, key: bytes, monkeypatch, capsys
):
    deliver(tmp_path, partner_sftp, warehouse_url, key)
    rotated = json.dumps({"v1": TEST_VAULT_KEY, "v2": "a-new-vault-key-0123456789"})
    monkeypatch.setenv("EVICTION_PREVENTION_VAULT_KEY", rotated)  # the operator appends a version, then runs:
    assert cli.main(["rotate-vault", "--url", warehouse_url]) == 0
    assert capsys.readouterr().out == "6 sealed references resealed under the vault key's current version\n"
    with warehouse.connect(warehouse_url) as conn:
        trivire = record_keys_by_line(conn, "stg_arrears_snapshots", "trivire")
        assert identity_vault.rotate(conn, rotated.encode()) == 0  # a second run finds nothing left to do
        versions = conn.execute(sa.text(f"SELECT DISTINCT key_version FROM {identity_vault.table(conn)}")).all()
        assert [tuple(r) for r in versions] == [("v2",)]
        ask = {"recipient": "trivire", "purpose": "terugkoppeling_corporatie", "run_id": "r"}
        v2_only = keys.KeyChain((("v2", b"a-new-vault-key-0123456789"),))
        assert identity_vault.reidentify(conn, "trivire", trivire.values(), chain=v2_only, **ask) == {
            trivire[line]: f"TRV-{line - 1:05d}" for line in (2, 3, 4)
        }
        with pytest.raises(identity_vault.VaultError):  # the old key alone no longer opens them
            identity_vault.reidentify(conn, "trivire", trivire.values(), chain=VAULT, **ask)


def test_sealed_references_leave_with_their_staging_rows(
    tmp_path: Path, partner_sftp: PartnerSFTP, warehouse_url: str, key: bytes
):
    deliver(tmp_path, partner_sftp, warehouse_url, key)
    rules = [retention.StagingRule("stg_arrears_snapshots", "snapshot_date", 30)]
    counts = retention.purge_warehouse(warehouse_url, today=dt.date(2026, 12, 31), rules=rules)
    assert counts["stg_arrears_snapshots"] == 3 and counts["partner_references"] == 3
    with warehouse.connect(warehouse_url) as conn:
        left = conn.execute(sa.text(f"SELECT DISTINCT partner FROM {identity_vault.table(conn)}")).all()
    assert [tuple(r) for r in left] == [("sociale_teams",)]


def test_sealing_is_deterministic_so_a_rerun_writes_the_same_bytes():
    first = identity_vault.seal_references(["TRV-00001", "TRV-00002"], ["rk1", "rk2"], "trivire", VAULT)
    again = identity_vault.seal_references(["TRV-00001", "TRV-00002"], ["rk1", "rk2"], "trivire", VAULT)
    assert first == again and first[0] == "v1"
    assert len(set(first[1])) == 2
    other = identity_vault.seal_references(["TRV-00001"], ["rk1"], "woonbron", VAULT)
    assert other[1][0] != first[1][0]  # bound to its partner
