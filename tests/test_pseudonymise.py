"""Keyed pseudonyms: determinism, key and field separation, and no identifier in the output."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date

import pandas as pd
import pytest
from eviction_prevention.link.model import BLOOM_CLOSE, BLOOM_NEAR
from eviction_prevention.parse.layouts import attribute_columns, columns, identifier_columns
from eviction_prevention.pseudonymise import pseudonymiser
from eviction_prevention.pseudonymise.frames import pseudonymise_frame, rotate_frame
from eviction_prevention.pseudonymise.keys import KeyChain, bloom_permutation, parse_key_chain
from eviction_prevention.pseudonymise.person_tokens import person_pseudonyms
from eviction_prevention.pseudonymise.pseudonymiser import (
    BLOOM_BITS,
    BLOOM_FLIPS,
    BLOOM_HASHES,
    ENCODED_BITS,
    PERSON_PSEUDONYMS,
    PSEUDONYM_COLUMNS,
    Pseudonymiser,
    bloom_bits,
    pseudonym,
    shared_pseudonymiser,
)

from tests.sealed import opened

KEY = b"test-key-one"
OTHER_KEY = b"test-key-two"
HEX32 = re.compile(r"^[0-9a-f]{32}$")
SEALED_COLUMNS = {"record_key", "key_version", "person_seal"}


def _opened(out: pd.DataFrame, kind: str, key: bytes | KeyChain = KEY) -> pd.DataFrame:
    return opened(out, kind, key)


def test_pseudonym_matches_the_documented_construction():
    expected = hmac.new(KEY, b"eviction-prevention/v1/surname\x1fjansen", hashlib.sha256).hexdigest()[:32]
    assert pseudonym(KEY, "surname", "jansen") == expected
    assert Pseudonymiser(KEY)("surname", "jansen") == expected


def test_same_input_same_key_same_output():
    assert pseudonym(KEY, "surname", "jansen") == pseudonym(KEY, "surname", "jansen")
    assert HEX32.match(pseudonym(KEY, "surname", "jansen"))


def test_different_key_different_output():
    assert pseudonym(KEY, "surname", "jansen") != pseudonym(OTHER_KEY, "surname", "jansen")


def test_domain_separation_between_fields():
    assert pseudonym(KEY, "surname", "dordrecht") != pseudonym(KEY, "street", "dordrecht")
    # field labels cannot contain the separator, so field/value boundaries are unambiguous
    with pytest.raises(ValueError):
        pseudonym(KEY, "a\x1fb", "c")
    assert pseudonym(KEY, "a", "b\x1fc") != pseudonym(KEY, "a", "b")


@pytest.mark.parametrize("empty", [None, "", "   ", pd.NA, float("nan")])
def test_missing_values_have_no_pseudonym(empty):
    assert pseudonym(KEY, "surname", empty) is None


def test_key_must_be_bytes():
    with pytest.raises(ValueError):
        Pseudonymiser(b"")
    with pytest.raises(ValueError):
        Pseudonymiser("not-bytes")  # type: ignore[arg-type]


def _person(**overrides):
    base = {
        "initials": "J.P.",
        "prefix": "van der",
        "surname": "Berg",
        "birth_date": date(1980, 4, 7),
        "street": "Kerkstraat",
        "house_number": 12,
        "house_letter": "a",
        "house_number_suffix": "bis",
        "postcode": "3311 AB",
        "city": "Dordrecht",
    }
    return {**base, **overrides}


def _social_team_frame() -> pd.DataFrame:
    rows = [
        {
            "team": "Wijkteam Noord",
            "case_ref": "ZAAK-000123",
            "given_name": "Johannes Pieter",
            **_person(),
            "bsn": "111222333",
            "reporter": "trivire",
            "report_received_date": date(2025, 2, 3),
            "outcome": "resolved",
            "export_date": date(2025, 3, 1),
        },
        {
            "team": "Wijkteam Zuid",
            "case_ref": "ZAAK-000456",
            "given_name": None,
            **_person(
                initials="m",
                prefix=None,
                surname="Yılmaz-Çelik",
                birth_date=pd.NaT,
                street=None,
                house_number=pd.NA,
                house_letter=None,
                house_number_suffix=None,
                postcode="SW1A 1AA",
                city="Zwijndrecht",
            ),
            "bsn": "123456789",  # fails the 11-test
            "reporter": None,
            "report_received_date": date(2025, 2, 4),
            "outcome": None,
            "export_date": date(2025, 3, 1),
        },
    ]
    df = pd.DataFrame(rows)
    df["house_number"] = df["house_number"].astype("Int64")
    return df


def test_frame_has_no_identifier_and_keeps_attributes():
    df = _social_team_frame()
    out = pseudonymise_frame(df, "social_team", KEY)
    assert not set(identifier_columns("social_team")) & set(out.columns)
    assert set(out.columns) >= SEALED_COLUMNS
    assert not set(PERSON_PSEUDONYMS) & set(out.columns)  # sealed, not stored as columns
    assert set(PSEUDONYM_COLUMNS) <= set(_opened(out, "social_team").columns)
    for col in attribute_columns("social_team"):
        if col in df.columns:
            pd.testing.assert_series_equal(out[col], df[col])
    assert out.index.equals(df.index)


def test_no_raw_value_anywhere_in_the_output():
    df = _social_team_frame()
    sealed = pseudonymise_frame(df, "social_team", KEY)
    out = _opened(sealed, "social_team")
    identifier_values = set()
    for col in identifier_columns("social_team"):
        for v in df[col].tolist():
            if v is not None and not pd.isna(v):
                identifier_values.add(str(v))
                if isinstance(v, date):
                    identifier_values |= {v.isoformat(), v.strftime("%d-%m-%Y")}
    pseudonym_text = [str(v) for col in PSEUDONYM_COLUMNS for v in out[col].tolist() if v is not None]
    for raw in identifier_values:
        assert raw not in out.to_numpy().tolist()
        assert raw not in sealed.to_numpy().tolist()
        for text in pseudonym_text:
            assert text != raw
            # substrings: only meaningful for values that cannot occur in hex by chance
            if len(raw) >= 4 and not re.fullmatch(r"[0-9a-fA-F]+", raw):
                assert raw.casefold() not in text.casefold()
    for col in PSEUDONYM_COLUMNS:
        for v in out[col].tolist():
            assert v is None or re.fullmatch(r"[0-9a-f]+", v)


def test_pseudonym_values_follow_the_rules():
    df = _social_team_frame()
    out = _opened(pseudonymise_frame(df, "social_team", KEY), "social_team")
    first, second = out.iloc[0], out.iloc[1]
    assert first["record_key"] == pseudonym(KEY, "case_ref", "ZAAK-000123")
    assert first["pk_surname"] == pseudonym(KEY, "surname", "berg")
    assert first["pk_prefix"] == pseudonym(KEY, "prefix", "van der")
    assert first["pk_initials"] == pseudonym(KEY, "initials", "jp")
    assert first["pk_initial_1"] == pseudonym(KEY, "initial", "j")
    assert first["pk_birth_date"] == pseudonym(KEY, "birth_date", "1980-04-07")
    assert first["pk_birth_dm_swapped"] == pseudonym(KEY, "birth_date", "1980-07-04")
    assert first["pk_birth_year"] == pseudonym(KEY, "birth_year", "1980")
    assert first["pk_birth_md"] == pseudonym(KEY, "birth_md", "04-07")
    assert first["pk_postcode"] == pseudonym(KEY, "postcode", "3311AB")
    assert first["pk_address"] == pseudonym(KEY, "address", "3311AB|12A-BIS")
    assert first["pk_street_house"] == pseudonym(KEY, "street_house", "kerkstraat|12")
    assert first["pk_bsn"] == pseudonym(KEY, "bsn", "111222333")
    assert first["pk_phone"] is None and first["pk_email"] is None  # social team: no contact details
    assert len(first["bf_surname"]) == 250  # 1000 bits: the 500-bit filter and its complement
    assert bloom_bits(first["bf_surname"]).bit_count() == 500  # balanced: density exactly 50 %
    # second row: double surname, missing values, invalid BSN, foreign postcode
    assert second["pk_surname"] == pseudonym(KEY, "surname", "yilmaz celik")
    assert {second["pk_surname_1"], second["pk_surname_2"]} == {
        pseudonym(KEY, "surname_component", "celik"),
        pseudonym(KEY, "surname_component", "yilmaz"),
    }
    assert second["pk_surname_1"] == pseudonym(KEY, "surname_component", "celik")  # sorted
    assert second["pk_surname_phon"] == pseudonym(KEY, "surname_phonetic", "almas")  # of "yilmaz"
    assert second["pk_birth_date"] is None and second["pk_birth_dm_swapped"] is None
    assert second["pk_bsn"] is None
    assert second["pk_postcode"] == pseudonym(KEY, "postcode", "SW1A1AA")
    assert second["pk_address"] is None and second["pk_street_house"] is None


def test_variants_of_one_person_share_pseudonyms():
    variants = pd.DataFrame(
        [
            _person(),
            _person(prefix=None, surname="Van der Berg", initials="JP", postcode="3311ab"),
            _person(prefix="v.d.", surname="BERG", initials="j p", birth_date="07-04-1980", house_number="12A",
                    house_letter=None, street="Kerkstr."),
            _person(prefix=None, surname="Berg, van der", birth_date=pd.Timestamp("1980-04-07")),
        ]
    )  # fmt: skip
    out = person_pseudonyms(variants, KEY)
    for col in ("pk_surname", "pk_prefix", "pk_initials", "pk_birth_date", "pk_postcode", "pk_street_house"):
        assert out[col].nunique() == 1, col
    assert out["pk_address"].iloc[:2].nunique() == 1


def test_partner_name_order_shares_a_component():
    df = pd.DataFrame([_person(surname="Jansen-de Vries", prefix=None), _person(surname="de Vries", prefix=None)])
    out = person_pseudonyms(df, KEY)
    a = {out.loc[0, "pk_surname_1"], out.loc[0, "pk_surname_2"]}
    b = {out.loc[1, "pk_surname_1"], out.loc[1, "pk_surname_2"]} - {None}
    assert b <= a


def test_swapped_day_and_month_link_through_the_swapped_key():
    df = pd.DataFrame([_person(birth_date=date(1980, 4, 7)), _person(birth_date=date(1980, 7, 4))])
    out = person_pseudonyms(df, KEY)
    assert out.loc[0, "pk_birth_dm_swapped"] == out.loc[1, "pk_birth_date"]
    same = person_pseudonyms(pd.DataFrame([_person(birth_date=date(1980, 4, 4))]), KEY)
    assert same.loc[0, "pk_birth_dm_swapped"] is None  # day == month: nothing to swap
    late = person_pseudonyms(pd.DataFrame([_person(birth_date=date(1980, 4, 13))]), KEY)
    assert late.loc[0, "pk_birth_dm_swapped"] is None  # 13 is not a month


def test_bloom_encoding_similarity_and_hardening():
    pz = Pseudonymiser(KEY)

    def distance(a: str, b: str, salt_a: str = "p1", salt_b: str = "p2") -> int:
        return (bloom_bits(pz.bloom(a, salt_a)) ^ bloom_bits(pz.bloom(b, salt_b))).bit_count()

    assert distance("jansen", "jansen", "p1", "p1") == 0  # same person, same encoding
    assert 0 < distance("jansen", "jansen") <= 4 * BLOOM_FLIPS  # other person: only the keyed flips differ
    assert distance("jansen", "janssen") <= BLOOM_CLOSE  # one inserted letter
    assert distance("jansen", "pietersen") > BLOOM_NEAR
    assert pz.bloom("jansen", "p1") != pz.bloom("jansen", "p2")  # equal surnames do not give equal encodings
    assert pz.bloom("jansen") != Pseudonymiser(OTHER_KEY).bloom("jansen")
    for name in ("bos", "jansen", "van den heuvel el idrissi"):  # density does not reveal the length
        assert bloom_bits(pz.bloom(name)).bit_count() == ENCODED_BITS // 2
    assert pz.bloom("") is None


def test_corporation_frame_contact_details_and_namespace():
    row = {
        "tenancy_ref": "HC-0001",
        **_person(),
        "phone": "06-12345678",
        "email": "J.vd.Berg@example.nl",
        "monthly_rent": 650.5,
        "arrears_amount": 1301.0,
        "snapshot_date": date(2025, 1, 31),
        "partner_code": "trivire",
        "free_text": "belt altijd terug",  # unknown column: dropped
    }
    df = pd.DataFrame([row])
    out = _opened(pseudonymise_frame(df, "corporation", KEY, keep=["partner_code"]), "corporation")
    assert out.loc[0, "pk_phone"] == pseudonym(KEY, "phone", "0612345678")
    assert out.loc[0, "pk_email"] == pseudonym(KEY, "email", "j.vd.berg@example.nl")
    assert "partner_code" in out.columns and "free_text" not in out.columns
    assert not set(identifier_columns("corporation")) & set(out.columns)
    namespaced = pseudonymise_frame(df, "corporation", KEY, namespace="trivire")
    assert namespaced.loc[0, "record_key"] != out.loc[0, "record_key"]
    with pytest.raises(ValueError):
        pseudonymise_frame(df, "corporation", KEY, keep=["surname"])
    with pytest.raises(ValueError):
        pseudonymise_frame(df, "landlord", KEY)


def test_sdd_frame_and_empty_frame():
    names = [c.name for c in columns("sdd")]
    empty = pd.DataFrame(columns=names)
    out = pseudonymise_frame(empty, "sdd", KEY)
    assert out.empty
    assert not set(identifier_columns("sdd")) & set(out.columns)
    assert set(out.columns) >= SEALED_COLUMNS


def test_plain_key_is_the_one_version_chain():
    assert parse_key_chain(KEY) == KeyChain((("v1", KEY),))
    chain = parse_key_chain(b'{"v1": "test-key-one", "v2": "test-key-two"}')
    assert chain.versions == (("v1", KEY), ("v2", OTHER_KEY))
    assert chain.current == "v2"
    assert parse_key_chain(b"{not json") == KeyChain((("v1", b"{not json"),))
    with pytest.raises(ValueError):
        KeyChain((("v1", KEY), ("v1", OTHER_KEY)))


def test_chained_pseudonym_is_hmac_of_the_previous_version():
    chain = parse_key_chain(b'{"v1": "test-key-one", "v2": "test-key-two"}')
    inner = pseudonym(KEY, "surname", "jansen")
    expected = hmac.new(OTHER_KEY, f"eviction-prevention/v2/surname\x1f{inner}".encode(), hashlib.sha256)
    assert pseudonym(chain, "surname", "jansen") == expected.hexdigest()[:32]
    assert Pseudonymiser(chain)("surname", "jansen") == expected.hexdigest()[:32]


def test_rotation_keeps_history_linkable():
    """Rows stored under v1 and rotated to v2 equal the same rows pseudonymised under the chain v1+v2: the
    seal is opened under v1, its pseudonyms rotated, and sealed again under v2."""
    rows = pd.DataFrame([_person(), _person(surname="Bakker", initials="A.", bsn=None)])
    rows["case_ref"] = ["C1", "C2"]
    chain = KeyChain((("v1", KEY), ("v2", OTHER_KEY)))
    stored = pseudonymise_frame(rows, "social_team", KEY)
    assert list(stored["key_version"]) == ["v1", "v1"]
    rotated = rotate_frame(stored, "social_team", chain, "v2")
    fresh = pseudonymise_frame(rows, "social_team", chain)
    pd.testing.assert_frame_equal(rotated, fresh)
    assert rotated.loc[0, "person_seal"] != stored.loc[0, "person_seal"]
    opened = _opened(rotated, "social_team", chain)
    inner = pseudonym(KEY, "surname", "berg")
    expected = hmac.new(OTHER_KEY, f"eviction-prevention/v2/surname\x1f{inner}".encode(), hashlib.sha256)
    assert opened.loc[0, "pk_surname"] == expected.hexdigest()[:32]
    with pytest.raises(ValueError, match="does not open"):  # sealed under v2 now: the v1 key alone cannot open it
        _opened(rotated.assign(key_version="v1"), "social_team", KEY)
    # rerunning an interrupted rotation changes nothing
    pd.testing.assert_frame_equal(rotate_frame(rotated, "social_team", chain, "v2"), fresh)
    # a frame of pseudonym columns (in memory) rotates the same way
    tokens = _opened(stored, "social_team")
    pd.testing.assert_frame_equal(
        rotate_frame(tokens, "social_team", chain, "v2"), _opened(fresh, "social_team", chain)
    )
    with pytest.raises(ValueError, match="not in the key chain"):
        rotate_frame(stored, "social_team", OTHER_KEY, "v2")  # the new key alone cannot open the v1 seals


@pytest.mark.parametrize("key", [b"k", b"k" * 64, b"k" * 65, bytes(range(200))])  # HMAC pads keys longer than 64
def test_pseudonym_matches_hmac_for_any_key_length(key):
    expected = hmac.new(key, b"eviction-prevention/v1/surname\x1fjansen", hashlib.sha256).hexdigest()[:32]
    assert Pseudonymiser(key)("surname", "jansen") == expected == pseudonym(key, "surname", "jansen")
    assert Pseudonymiser(key).many("surname", ["jansen", None, "", "jansen"]) == [expected, None, None, expected]


def _bloom_bit_by_bit(chain: KeyChain, text: str, salt: str) -> tuple[str, bool]:
    """The encoding as the module documentation describes it, one bit at a time; and whether a bit was flipped
    twice (so the test can check that case is covered)."""
    version, k = chain.versions[0]

    def digest(field: str, message: str) -> bytes:
        return hmac.new(k, f"eviction-prevention/{version}/{field}\x1f{message}".encode(), hashlib.sha256).digest()

    inner = [False] * BLOOM_BITS
    padded = f"_{text}_"
    for i in range(len(padded) - 1):
        d = digest("bf_surname", padded[i : i + 2])
        h1, h2 = int.from_bytes(d[:8], "big"), int.from_bytes(d[8:16], "big") | 1
        for j in range(BLOOM_HASHES):
            inner[(h1 + j * h2) % BLOOM_BITS] = True
    d = digest("bf_noise", f"{text}\x1f{salt}")
    flips = [int.from_bytes(d[2 * j : 2 * j + 2], "big") % BLOOM_BITS for j in range(BLOOM_FLIPS)]
    for position in flips:
        inner[position] = not inner[position]
    order = list(range(ENCODED_BITS))
    for v, key in chain.versions:
        step = bloom_permutation(key, v, ENCODED_BITS)
        order = [step[j] for j in order]
    encoded = [False] * ENCODED_BITS
    for j, bit in enumerate(inner + [not b for b in inner]):
        encoded[order[j]] = bit
    value = int("".join("1" if b else "0" for b in encoded), 2)
    return f"{value:0{ENCODED_BITS // 4}x}", len(set(flips)) < len(flips)


@pytest.mark.parametrize("key", [KEY, b'{"v1": "test-key-one", "v2": "test-key-two"}'])
def test_bloom_encoding_equals_the_bit_by_bit_construction(key, monkeypatch):
    monkeypatch.setattr(pseudonymiser, "_BLOOM_CHUNK", 7)  # several chunks
    chain = parse_key_chain(key)
    texts = ["jansen", "van den heuvel el idrissi", "o", "jansen"] * 100
    salts = [f"jp\x1f1980-04-{i:03d}" for i in range(len(texts))]
    expected = [_bloom_bit_by_bit(chain, t, s) for t, s in zip(texts, salts, strict=True)]
    assert any(twice for _, twice in expected)  # a bit flipped twice is back where it was
    assert Pseudonymiser(chain).blooms([*texts, ""], [*salts, "x"]) == [*(e for e, _ in expected), None]


def test_shared_pseudonymiser_is_one_per_key_and_its_memos_do_not_change_results():
    assert shared_pseudonymiser(KEY) is shared_pseudonymiser(KEY)
    assert shared_pseudonymiser(OTHER_KEY) is not shared_pseudonymiser(KEY)
    df = _social_team_frame()
    fresh = pseudonymise_frame(df, "social_team", KEY)
    again = pseudonymise_frame(df, "social_team", KEY)  # now mostly from the shared memos
    pd.testing.assert_frame_equal(fresh, again)
    pd.testing.assert_frame_equal(person_pseudonyms(df, KEY), person_pseudonyms(df, Pseudonymiser(KEY)))


def test_memos_keep_equal_values_of_different_types_apart():
    def frame(number: object) -> pd.DataFrame:
        return pd.DataFrame([_person(house_number=number, house_letter=None, house_number_suffix=None)], dtype=object)

    shared = Pseudonymiser(KEY)
    for number in (1, True, 1.0, "1", True):  # 1 == 1.0 == True as dict keys, but True is no house number
        pd.testing.assert_frame_equal(person_pseudonyms(frame(number), shared), person_pseudonyms(frame(number), KEY))
    assert person_pseudonyms(frame(True), shared).loc[0, "pk_address"] is None
    assert person_pseudonyms(frame(1), shared).loc[0, "pk_address"] == pseudonym(KEY, "address", "3311AB|1")


def test_blank_values_count_as_missing():
    df = _social_team_frame()
    df["case_ref"] = ["   ", "ZAAK-1"]
    df["surname"] = [" ", "Bakker"]
    out = _opened(pseudonymise_frame(df, "social_team", KEY, namespace="team"), "social_team")
    assert out.loc[0, "record_key"] is None and out.loc[0, "pk_surname"] is None and out.loc[0, "bf_surname"] is None
    assert out.loc[1, "record_key"] == pseudonym(KEY, "case_ref", "team\x1fZAAK-1")


def test_birth_dates_as_datetimes_or_dates_or_text_agree():
    dates = pd.DataFrame([_person(), _person(birth_date=date(1975, 12, 31)), _person(birth_date=None)])
    as_datetimes = dates.assign(birth_date=pd.to_datetime(dates["birth_date"]).astype("datetime64[s]"))
    as_text = dates.assign(birth_date=["07-04-1980", "31-12-1975", None])
    expected = person_pseudonyms(dates, KEY)
    pd.testing.assert_frame_equal(person_pseudonyms(as_datetimes, KEY), expected)
    pd.testing.assert_frame_equal(person_pseudonyms(as_text, KEY), expected)
