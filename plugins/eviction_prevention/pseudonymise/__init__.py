"""Pseudonymise: identifiers normalised (``normalize``) and keyed (``keys``: versioned keys, HMAC chains) into
pseudonyms (``pseudonymiser``, ``person_tokens``, ``distinct_inputs``, ``frames``); the person tokens sealed
(``sealing``, ``seal_migration``, ``arrow_rows``); partner references only in the sealed ``identity_vault``.

Keyed pseudonymisation is HMAC-SHA256 with per-field domain separation.

Direct and quasi identifiers never leave ingest: each is normalised (``normalize``), turned into one or
more keyed pseudonyms, and dropped. The key lives outside the warehouse and the code
(``settings.pseudonym_key``); without it a pseudonym cannot be recomputed from a guessed value.

``pseudonym(key, field, value)`` is ``HMAC-SHA256(key, "eviction-prevention/v1/{field}" 0x1F value)``
as 32 hex characters (128 bits). The field label separates domains: the same text as surname and as
street gives unrelated pseudonyms. Fields that must be compared with each other share one label
(``pk_surname_1``/``pk_surname_2`` both use ``surname_component``; ``pk_birth_date`` and
``pk_birth_dm_swapped`` both use ``birth_date``).

Pseudonym columns (``pseudonymiser.PSEUDONYM_COLUMNS``, hex strings or ``None``):

=====================  ===================================================================
record_key             the kind's reference (tenancy_ref / case_ref / record_ref)
pk_surname             all surname components without prefixes, space-joined
pk_surname_1, _2       the first two components, sorted (partner-name order swaps share one)
pk_surname_phon        ``phonetic`` of the first component
pk_prefix              normalised voorvoegsel
pk_initials            initials (from ``initials``, else from ``given_name``)
pk_initials_sorted     initials sorted (catches swapped initials ``jp``/``pj``)
pk_initial_1           first initial
pk_birth_date          ISO birth date
pk_birth_year          year
pk_birth_md            month-day (catches year typos)
pk_birth_dm_swapped    birth date with day and month swapped, when that is a different valid date
pk_postcode            normalised postcode
pk_address             postcode + ``house()``
pk_street_house        ``street()`` + bare house number (catches postcode typos)
pk_bsn                 BSN, only when it passes the 11-test
pk_phone, pk_email     contact details (corporation files only; else ``None``)
bf_surname             500-bit keyed bigram Bloom filter of the surname (125 hex chars)
=====================  ===================================================================

``bf_surname`` lets linkage score surname typos. It is a *hardened* field-level Bloom filter
(``pseudonymiser.Pseudonymiser.blooms``): the padded bigrams of the surname set ``BLOOM_HASHES`` positions each in a
``BLOOM_BITS``-bit filter, positions drawn from an HMAC of the bigram (a key-derived salt: without the key
nobody can build or recognise a filter); ``BLOOM_FLIPS`` positions chosen by an HMAC of the whole person
(surname, initials, birth date) are flipped, so two people with the same surname get different
filters and the frequency of a filter says nothing about the frequency of a surname; the filter is
*balanced* (concatenated with its complement: exactly ``BLOOM_BITS`` of the ``ENCODED_BITS`` bits are
set, a density of 50 % whatever the name's length) and its bits are shuffled by a keyed permutation
per key version. Similarity is the Hamming distance between two encodings (a typo moves about
``4 * BLOOM_HASHES`` inner bits, so about ``8 * BLOOM_HASHES`` encoded bits). Treat the column as
personal data of the same class as the other pseudonyms (pseudonymous, not anonymous).

Key versions and rotation (``keys``): the key may be a chain of versions; each pseudonym is an HMAC chain
and each version adds a Bloom permutation, so stored values can be carried to a new key without clear
text (``frames.rotate_frame``). Every staged row records the ``key_version`` that produced it.

Speed and memory (``frames.pseudonymise_frame`` runs on every delivered row): nothing is computed per row in
Python. Each input column is factorised once (``distinct_inputs.DistinctColumn``); normalisation, HMACs and Bloom
encodings run on the distinct values or value combinations only, and the results are spread back over the rows
with numpy takes. HMACs reuse precomputed SHA-256 pad states (``pseudonymiser._Hmac``); a Bloom encoding is
the XOR of its surname's encoding and one precomputed row per flipped bit
(``pseudonymiser.Pseudonymiser._flip_basis``), so no bit matrix is built per row. A ``Pseudonymiser`` memoises
the low-cardinality results (names, initials, birth dates, postcodes, house numbers, streets and their
pseudonyms, surname encodings) in memos of at most ``pseudonymiser.MEMO_LIMIT`` entries, and
``pseudonymiser.shared_pseudonymiser`` keeps one per key chain for the whole process, so later frames mostly
look them up. Identifiers nearly unique per person (references, BSN, phone, e-mail, address, Bloom flips) are
not memoised: in a memo that large a lookup misses the CPU caches and costs about as much as the HMAC it
saves. The memos hold normalised clear text: process memory only, never written, logged or returned.
"""
