"""Link: probabilistic record linkage (Fellegi-Sunter) on pseudonym columns only, one step per module.

``predict.score_records`` runs the steps on two encoded sources: ``encoding`` (step 0), ``blocking`` (1),
``comparison`` (2), ``estimate_u`` and ``expectation_maximisation`` with the ``weights`` (3), the scoring
itself (4); ``model`` holds what they share (fields, levels, rules, priors). ``engine.link`` scores two
frames and applies the threshold and the one-to-one assignment (``clustering``, step 5); ``csv_files`` is
the ``link`` command. ``sources`` applies it all to the warehouse: the records of each source
(``source_records``), social-team cases to arrears cases (``case_assignment``), links and two-step paths
(``link_paths``) and persons (``persons``), written to ``int_links`` and ``int_persons``.

Design:

0. *Encoding*: each source's pseudonyms become integer codes in one code space shared by all sources
   (``encoding.Encoder``: Arrow dictionary-encodes the strings; -1 = missing) and its hex surname encodings
   64-bit words; everything below works on these arrays, never on a Python object per record or pair.
1. *Blocking*: candidate pairs are the union of the pairs that share any blocking key
   (``model.BLOCKING_RULES``). Each key combines at least two fields, or is one field nearly unique per person
   (BSN, address), so the pairs per record stay few as the data grows; some keys only pair records
   that lack a birth date. A key value that would give more than ``max_block_pairs`` pairs is skipped
   (too common to be informative, and it would blow up the candidate set).
2. *Comparison*: each candidate pair gets one level per field (``model.FIELDS``), using what the pair has:
   surname (exact, a shared component of a double name, phonetic, written in the given-name field, keyed
   Bloom distance); given name (the full first given names when both records have one: exact, close, swapped
   with the surname, near, same first letter; else the initials); birth date (exact, day and month swapped,
   one digit typed over, month and day, two digits, the year alone: also when one side knows only the year);
   address (the exact address, else how many of postcode, street, house number and city agree, a postcode
   with up to two characters typed over or swapped and a street or city by bigram Dice); BSN. Level -1 is
   "missing on either side" and is neutral (weight 0).
3. *Parameters*: u (level frequencies among non-matches) comes from a sample of random pairs
   (shrunk towards priors for tiny inputs). m comes from EM with u fixed, run in training sessions
   on the pairs of one blocking key each (``model.TRAINING_RULES``), leaving out the fields that key
   conditions on, so that the non-matches in a session look like random pairs on the fields that are
   estimated (Splink's approach; EM over all blocked pairs at once is fooled by blocked non-matches).
   A session is sampled down to ``model.TRAINING_PAIRS`` pairs, and EM runs over its distinct comparison
   patterns weighted by their counts. Exact agreement on surname, given name and initials is
   term-frequency adjusted.
4. *Scoring*: match weight = sum of log2(m/u) over fields. match_probability is a record-level
   posterior: a record has at most one match on the other side, with probability pi (the match share,
   itself estimated by EM); competing candidates of the same record lower each other's probability.
   The smaller of the left-record and right-record view is used.
5. *Assignment*: pairs at or above ``threshold``; with ``one_to_one`` greedily by descending
   probability, each id used at most once.

Random samples (u pairs, training sessions) are drawn by row number from a fixed seed: the same rows
in the same order give the same result; the codes' values never matter.

Only counts are logged (records, pairs, iterations, lambda), never values.
"""
