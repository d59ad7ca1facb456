"""Sealed person pseudonyms: the documented construction, determinism, no frequency, fixed length, and clear
errors that never show a seal or a token."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import date

import pandas as pd
import pyarrow as pa
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from eviction_prevention.pseudonymise.frames import pseudonymise_frame
from eviction_prevention.pseudonymise.keys import KeyChain
from eviction_prevention.pseudonymise.person_tokens import person_pseudonyms
from eviction_prevention.pseudonymise.pseudonymiser import PERSON_PSEUDONYMS, TOKEN_BYTES
from eviction_prevention.pseudonymise.sealing import SealError, open_seals, seal, seal_length, unseal

from tests.sealed import opened

KEY = b"sealing-test-key-one"
OTHER_KEY = b"sealing-test-key-two"
CHAIN = KeyChain((("v1", KEY), ("v2", OTHER_KEY)))


def _hkdf_sha256(ikm: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 with an empty salt, written out with ``hmac``."""
    prk = hmac.new(b"\0" * 32, ikm, hashlib.sha256).digest()
    okm, block = b"", b""
    for i in range(1, -(-length // 32) + 1):
        block = hmac.new(prk, block + info + bytes([i]), hashlib.sha256).digest()
        okm += block
    return okm[:length]


def _documented_seal(tokens: dict[str, str | None], record_key: str, kind: str, key: bytes, version: str, n: int):
    """The seal as the module documentation describes it, byte by byte, for the first ``n`` columns."""
    columns = PERSON_PSEUDONYMS[:n]
    described = "".join(f"{c}:{TOKEN_BYTES[c]};" for c in columns).encode()
    header = bytes([1, n]) + hashlib.sha256(described).digest()[:4]
    bits = "".join("1" if tokens.get(c) else "0" for c in columns).ljust(8 * (-(-n // 8)), "0")
    bitmap = int(bits, 2).to_bytes(len(bits) // 8, "big")
    slots = b"".join(bytes.fromhex(tokens[c]) if tokens.get(c) else bytes(TOKEN_BYTES[c]) for c in columns)
    plain = header + bitmap + slots
    plain += bytes((-(len(plain) + 16)) % 3)
    label = f"eviction-prevention/{version}/person_seal\x1f".encode()
    cipher = AESSIV(_hkdf_sha256(key, label, 64))
    return base64.b64encode(cipher.encrypt(plain, [label + kind.encode(), record_key.encode()])).decode()


def _people() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"initials": "J.P.", "prefix": "van der", "surname": "Berg", "birth_date": date(1980, 4, 7),
             "street": "Kerkstraat", "house_number": 12, "postcode": "3311 AB", "bsn": "111222333",
             "phone": "06-12345678", "email": "j@example.com"},
            {"initials": "A.", "prefix": "van der", "surname": "Berg", "birth_date": date(1971, 1, 2)},  # same surname
            {"surname": "Bakker"},  # nearly everything missing
            {},  # nothing at all
        ]
    )  # fmt: skip


def _as_none(frame: pd.DataFrame) -> list[dict[str, str | None]]:
    return [{c: (v if isinstance(v, str) else None) for c, v in row.items()} for row in frame.to_dict("records")]


def test_seal_is_the_documented_construction():
    tokens = person_pseudonyms(_people(), KEY)
    seals = seal(tokens, ["rk0", "rk1", "rk2", "rk3"], "v1", "corporation", KEY)
    for i, row in enumerate(_as_none(tokens)):
        assert seals.iloc[i] == _documented_seal(row, f"rk{i}", "corporation", KEY, "v1", len(PERSON_PSEUDONYMS))


def test_roundtrip_gives_the_pseudonyms_back():
    tokens = person_pseudonyms(_people(), KEY)
    keys_ = ["a", "b", "c", "d"]
    back = unseal(seal(tokens, keys_, "v1", "sdd", KEY), keys_, "v1", "sdd", KEY)
    assert list(back.columns) == list(PERSON_PSEUDONYMS)
    assert _as_none(back) == _as_none(tokens)
    assert back.loc[3].isna().all()  # a row without any pseudonym seals and opens as such


def test_open_seals_gives_the_raw_bytes_of_each_token_and_zeros_where_missing():
    tokens = _as_none(person_pseudonyms(_people(), KEY))
    keys_ = ["a", "b", "c", "d"]
    sealed = seal(pd.DataFrame(tokens), keys_, "v1", "sdd", KEY)
    # an Arrow result of two chunks, as a query gives it: no row is lost or moved at the chunk boundary
    chunked = pa.chunked_array([pa.array(sealed.iloc[:3].tolist()), pa.array(sealed.iloc[3:].tolist())])
    opened_ = open_seals(chunked, pa.chunked_array([pa.array(keys_)]), "v1", "sdd", KEY)
    for column in PERSON_PSEUDONYMS:
        assert opened_.raw[column].shape == (4, TOKEN_BYTES[column])
        for row, token in enumerate(tokens):
            expected = bytes.fromhex(token[column]) if token[column] else bytes(TOKEN_BYTES[column])
            assert opened_.present[column][row] == (token[column] is not None)
            assert opened_.raw[column][row].tobytes() == expected
    assert opened_.present["pk_bsn"].tolist() == [True, False, False, False]


def test_same_row_same_seal_so_a_rerun_writes_the_same_warehouse():
    people = pd.DataFrame([_people().iloc[0]] * 2).assign(tenancy_ref="HC-1")
    first = pseudonymise_frame(people, "corporation", KEY)
    again = pseudonymise_frame(people, "corporation", KEY)
    assert first["person_seal"].iloc[0] == first["person_seal"].iloc[1] == again["person_seal"].iloc[0]


def test_same_surname_or_same_pseudonyms_give_unrelated_seals():
    people = _people().iloc[:2].assign(tenancy_ref=["HC-1", "HC-2"])
    out = pseudonymise_frame(people, "corporation", KEY)
    surnames = opened(out, "corporation", KEY)["pk_surname"]
    assert surnames.iloc[0] == surnames.iloc[1]  # the same surname pseudonym inside ...
    assert out["person_seal"].iloc[0] != out["person_seal"].iloc[1]  # ... but nothing in common outside
    assert out["person_seal"].iloc[0][:40] != out["person_seal"].iloc[1][:40]
    twins = pd.DataFrame([_people().iloc[0]] * 2).assign(tenancy_ref=["HC-1", "HC-2"])  # other records
    sealed = pseudonymise_frame(twins, "corporation", KEY)["person_seal"]
    assert sealed.iloc[0] != sealed.iloc[1]


def test_every_seal_has_the_same_length_whatever_is_missing():
    tokens = person_pseudonyms(_people(), KEY)
    assert tokens.iloc[2].notna().sum() < tokens.iloc[0].notna().sum()
    seals = seal(tokens, ["a", "b", "c", "d"], "v1", "social_team", KEY)
    plain = 6 + -(-len(PERSON_PSEUDONYMS) // 8) + sum(TOKEN_BYTES[c] for c in PERSON_PSEUDONYMS)
    expected = -(-(plain + 16) // 3) * 4  # base64 of the padded ciphertext
    assert [len(s) for s in seals] == [expected] * 4 == [seal_length()] * 4
    assert not any(s.endswith("=") for s in seals)
    if len(PERSON_PSEUDONYMS) == 19:  # 18 pk_* of 16 bytes and bf_surname of 125: 422 + 16 bytes
        assert expected == 584


def _sealed_pair() -> tuple[pd.DataFrame, pd.DataFrame]:
    tokens = person_pseudonyms(_people().iloc[:2], KEY)
    frame = pd.DataFrame({"record_key": ["rk0", "rk1"], "key_version": ["v1", "v1"]})
    return tokens, frame.assign(person_seal=seal(tokens, frame["record_key"], "v1", "corporation", KEY).to_numpy())


def _assert_refused(frame: pd.DataFrame, kind: str, key: bytes | KeyChain, tokens: pd.DataFrame, reason: str):
    with pytest.raises(SealError, match=reason) as caught:
        unseal(frame["person_seal"], frame["record_key"], frame["key_version"], kind, key)
    message = str(caught.value)
    for value in [v for v in [*frame["person_seal"], *tokens.to_numpy().ravel()] if isinstance(v, str)]:
        assert value not in message
        assert value[:16] not in message


def test_wrong_key_changed_seal_or_another_record_is_refused_without_showing_values():
    tokens, frame = _sealed_pair()
    _assert_refused(frame, "corporation", OTHER_KEY, tokens, "row 0: person_seal does not open")
    seal0 = frame.loc[0, "person_seal"]
    changed = seal0[:100] + ("A" if seal0[100] != "A" else "B") + seal0[101:]
    _assert_refused(frame.assign(person_seal=[changed, frame.loc[1, "person_seal"]]), "corporation", KEY, tokens,
                    "row 0: person_seal does not open")  # fmt: skip
    moved = frame.assign(person_seal=frame["person_seal"].iloc[::-1].to_numpy())  # each seal on the other record
    _assert_refused(moved, "corporation", KEY, tokens, "row 0: person_seal does not open")
    _assert_refused(frame, "sdd", KEY, tokens, "does not open")  # another source kind
    _assert_refused(frame.assign(key_version="v2"), "corporation", CHAIN, tokens, "does not open")  # other version
    _assert_refused(frame.assign(key_version="v9"), "corporation", KEY, tokens, "key version 'v9' is not in")
    _assert_refused(frame.assign(person_seal=["%%junk%%", None]), "corporation", KEY, tokens, "is not a seal")
    _assert_refused(frame.assign(person_seal=[seal0[:-4], None]), "corporation", KEY, tokens, "does not open")


def test_a_missing_seal_opens_as_missing_pseudonyms():
    tokens, frame = _sealed_pair()
    back = unseal([None, frame.loc[1, "person_seal"]], frame["record_key"], "v1", "corporation", KEY)
    assert back.loc[0].isna().all()
    assert _as_none(back.iloc[1:]) == _as_none(tokens.iloc[1:])


def test_rows_of_several_key_versions_open_together():
    tokens = person_pseudonyms(_people().iloc[:2], KEY)
    v1 = seal(tokens.iloc[:1], ["rk0"], "v1", "sdd", CHAIN)
    v2 = seal(tokens.iloc[1:], ["rk1"], "v2", "sdd", CHAIN)
    back = unseal([v1.iloc[0], v2.iloc[0]], ["rk0", "rk1"], ["v1", "v2"], "sdd", CHAIN)
    assert _as_none(back) == _as_none(tokens)
    assert v2.iloc[0] == _documented_seal(_as_none(tokens)[1], "rk1", "sdd", OTHER_KEY, "v2", len(PERSON_PSEUDONYMS))


def test_a_seal_of_an_earlier_layout_opens_with_the_newer_columns_missing():
    """Columns are appended to PERSON_PSEUDONYMS over time: a seal made when there were fewer still opens."""
    tokens = _as_none(person_pseudonyms(_people().iloc[:1], KEY))[0]
    n = len(PERSON_PSEUDONYMS) - 1
    old = _documented_seal(tokens, "rk0", "corporation", KEY, "v1", n)
    back = _as_none(unseal([old], ["rk0"], "v1", "corporation", KEY))[0]
    assert back == {c: (tokens[c] if i < n else None) for i, c in enumerate(PERSON_PSEUDONYMS)}


def test_a_seal_whose_layout_does_not_match_is_refused():
    """Same column count, another layout (a column renamed or given another width): refused, not misread."""
    tokens = _as_none(person_pseudonyms(_people().iloc[:1], KEY))[0]
    good = base64.b64decode(_documented_seal(tokens, "rk0", "corporation", KEY, "v1", len(PERSON_PSEUDONYMS)))
    label = b"eviction-prevention/v1/person_seal\x1f"
    cipher = AESSIV(_hkdf_sha256(KEY, label, 64))
    plain = bytearray(cipher.decrypt(good, [label + b"corporation", b"rk0"]))
    plain[2] ^= 0xFF  # the layout check
    forged = base64.b64encode(cipher.encrypt(bytes(plain), [label + b"corporation", b"rk0"])).decode()
    with pytest.raises(SealError, match="layout does not match"):
        unseal([forged], ["rk0"], "v1", "corporation", KEY)


def test_tokens_that_are_not_pseudonyms_are_refused():
    with pytest.raises(SealError, match="not person pseudonym columns"):
        seal(pd.DataFrame({"surname": ["berg"]}), ["rk"], "v1", "sdd", KEY)
    with pytest.raises(SealError, match="pk_surname: a token that is not 32 hex digits"):
        seal(pd.DataFrame({"pk_surname": ["berg"]}), ["rk"], "v1", "sdd", KEY)
    with pytest.raises(SealError, match="unknown source kind"):
        seal(pd.DataFrame({"pk_surname": [None]}), ["rk"], "v1", "landlord", KEY)
