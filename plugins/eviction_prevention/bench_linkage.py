"""Linkage benchmark (``make bench-linkage``): quality per link type and noise level, and a frequency attack.

Quality: for every noise level and seed, generate the synthetic partner files (most tenants are unknown to
the social team and the SDD: the overlap is partial), ingest and publish them in process into a fresh
DuckDB warehouse, and compare ``int_links`` with the generator's ground truth.

Frequency attack: an attacker who holds the stored encodings and a public surname frequency list ranks
the distinct encodings by how often they occur and takes the i-th most frequent to be the i-th most
common surname. The simulation draws a population whose surnames follow a Zipf law over the public list
and reports the share of records whose surname the attacker gets right, for the hardened Bloom
encoding ``bf_surname`` and, for comparison, for the deterministic HMAC ``pk_surname``.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from eviction_prevention import normalize as nz
from eviction_prevention.pseudonymise import ENCODED_BITS, person_pseudonyms
from eviction_prevention.synthetic_data import SURNAMES

LINK_TYPES = ("case_social_team", "tenancy_sdd", "social_team_sdd")
NOISE_LEVELS = ("low", "default", "high")
BENCH_KEY = b"bench-linkage-key-not-a-secret"


def zipf_population(n: int, seed: int, public: Sequence[tuple[str, str]] = SURNAMES) -> pd.DataFrame:
    """n synthetic person rows (prefix, surname, initials, birth_date); surname rank r has weight 1/r."""
    rng = random.Random(seed)
    weights = [1.0 / (rank + 1) for rank in range(len(public))]
    names = rng.choices(list(public), weights=weights, k=n)
    return pd.DataFrame(
        {
            "prefix": [p for p, _ in names],
            "surname": [s for _, s in names],
            "initials": ["".join(rng.choice("ABCDEFGHIJKLMNPRSTWZ") for _ in range(rng.randint(1, 3))) for _ in names],
            "birth_date": [
                f"{rng.randint(1940, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}" for _ in names
            ],
        }
    )


def frequency_attack(encodings: Sequence[str | None], truth: Sequence[str], public_ranking: Sequence[str]) -> float:
    """Share of records whose surname is guessed right by aligning encoding frequencies with the public
    ranking (most frequent encoding -> most common name, and so on)."""
    counts = Counter(e for e in encodings if e)
    guess = {enc: public_ranking[i] for i, (enc, _) in enumerate(counts.most_common()) if i < len(public_ranking)}
    hits = sum(1 for e, t in zip(encodings, truth, strict=True) if e and guess.get(e) == t)
    return hits / max(len(truth), 1)


def attack_report(n: int = 20_000, seed: int = 7, key: bytes = BENCH_KEY) -> dict[str, float]:
    """Frequency-attack success on bf_surname and pk_surname, and the bit density of bf_surname."""
    people = zipf_population(n, seed)
    pseudo = person_pseudonyms(people, key)
    truth = [" ".join(nz.surname_components(s)) for s in people["surname"]]
    ranking = list(dict.fromkeys(" ".join(nz.surname_components(s)) for _, s in SURNAMES))
    filters = [f for f in pseudo["bf_surname"] if f]
    density = sum(int(f, 16).bit_count() for f in filters) / (len(filters) * ENCODED_BITS)
    return {
        "bf_surname": frequency_attack(list(pseudo["bf_surname"]), truth, ranking),
        "pk_surname": frequency_attack(list(pseudo["pk_surname"]), truth, ranking),
        "baseline_top_name": Counter(truth).most_common(1)[0][1] / n,
        "bf_density": density,
    }


def quality_run(noise: str, seed: int, scale: float, workdir: Path) -> dict[str, dict[str, float]]:
    """Generate, ingest, publish and evaluate one synthetic world; returns metrics per link type."""
    from eviction_prevention import evaluation, warehouse
    from eviction_prevention.demo import run_in_process
    from eviction_prevention.synthetic import generate

    data = workdir / f"{noise}-{seed}"
    generate(data, scale=scale, seed=seed, noise=noise)
    url = f"duckdb:///{data / 'warehouse.duckdb'}"
    run_in_process(data, url, BENCH_KEY)
    with warehouse.connect(url) as conn:
        return evaluation.linkage_quality(conn, data / "ground_truth", BENCH_KEY)


def format_row(noise: str, seed: int, link_type: str, m: dict[str, float]) -> str:
    return (
        f"{noise:<8} {seed:>5} {link_type:<17} {m['precision']:>9.4f} {m['recall']:>7.4f} {m['f1']:>7.4f}"
        f" {m['tp']:>5} {m['fp']:>4} {m['fn']:>4}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seeds", default="1,2", help="comma-separated generator seeds")
    parser.add_argument("--noise", default=",".join(NOISE_LEVELS), help="comma-separated noise levels")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    header = ("noise", "seed", "link_type", "precision", "recall", "f1", "tp", "fp", "fn")
    print("{:<8} {:>5} {:<17} {:>9} {:>7} {:>7} {:>5} {:>4} {:>4}".format(*header))
    worst: dict[tuple[str, str], float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-linkage-") as tmp:
        for noise in args.noise.split(","):
            for seed in seeds:
                started = time.perf_counter()
                result = quality_run(noise, seed, args.scale, Path(tmp))
                for link_type in LINK_TYPES:
                    print(format_row(noise, seed, link_type, result[link_type]))
                    key = (noise, link_type)
                    worst[key] = min(worst.get(key, 1.0), result[link_type]["f1"])
                print(f"{'':8} {'':5} ({time.perf_counter() - started:.1f} s)", flush=True)
    print("\nworst F1 per noise level and link type:")
    for (noise, link_type), f1 in worst.items():
        print(f"  {noise:<8} {link_type:<17} {f1:.4f}")
    attack = attack_report()
    print(
        "\nfrequency attack (20,000 records, Zipf surnames over the public list, attacker aligns encoding "
        "frequencies with the list):"
    )
    print(f"  bf_surname (hardened Bloom encoding): {attack['bf_surname']:.2%} of records re-identified")
    print(f"  pk_surname (deterministic HMAC):       {attack['pk_surname']:.2%} of records re-identified")
    print(f"  share of the most common surname:      {attack['baseline_top_name']:.2%} (guessing it for everyone)")
    print(f"  bf_surname bit density:                {attack['bf_density']:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
