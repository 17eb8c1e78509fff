"""Audio fingerprints: match time against 10,000 recent calls, and robustness rates.

    .venv/bin/python -m tests.bench.bench_fingerprint [--recent 10000] [--seed 1]

The index holds the five committed recordings plus --recent synthetic "other calls" (harmonic babble with
random pitch glides and syllable-like bursts, each seed a different recording). Queries are the committed
recordings altered by gain, noise and shifted starts (tests/audio_variants.py): each must find its original
(a true match); the same queries against an index without their original must find nothing (false matches
at scale), and pairs of different recordings must not match. Baseline in the same run: scoring a query
against every stored fingerprint one by one (brute force) for a few queries.
"""
import argparse
import itertools
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402

from ivr.speech.audio import SAMPLE_RATE  # noqa: E402
from ivr.screening.fingerprint import FingerprintIndex, fingerprint, is_match, score  # noqa: E402
from tests.audio_variants import VARIANTS, recordings  # noqa: E402
from tests.bench._common import emit, percentile, ratio  # noqa: E402


def babble(seed, seconds=5.0):
    """A synthetic voice-like recording: harmonics of a gliding pitch, switched on and off in bursts."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    pitch = rng.uniform(90, 260) * (1 + 0.2 * np.sin(2 * np.pi * rng.uniform(0.2, 2) * t + rng.uniform(0, 6)))
    phase = 2 * np.pi * np.cumsum(pitch) / SAMPLE_RATE
    voice = sum(rng.uniform(0.1, 1) / k * np.sin(k * phase) for k in range(1, 12))
    bursts = np.repeat(rng.random(int(seconds / 0.15) + 1) > 0.35, int(0.15 * SAMPLE_RATE))[:n]
    return (6000 * voice / np.abs(voice).max() * bursts).astype(np.int16)


def build_index(others, originals, with_originals=True):
    index = FingerprintIndex(capacity=len(others) + len(originals), merge_every=500)
    if with_originals:
        for name, hashes in originals.items():
            index.add(name, f"orig:{name}", hashes)
    for i, hashes in enumerate(others):
        index.add(f"other{i}", f"+9198{i:08d}", hashes)
    return index


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recent", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    clips = recordings()
    originals = {name: fingerprint(pcm) for name, pcm in clips.items()}
    queries = [(name, variant, fingerprint(VARIANTS[variant](pcm, args.seed + i)))
               for i, ((name, pcm), variant) in enumerate(itertools.product(clips.items(), VARIANTS))]
    others = [h for i in range(args.recent) if (h := fingerprint(babble(args.seed * 1_000_003 + i))) is not None]
    built = time.perf_counter()
    index = build_index(others, originals)
    build_seconds = time.perf_counter() - built

    times, found, missed = [], 0, []
    for name, variant, query in queries:
        started = time.perf_counter()
        best = index.best(query)
        times.append((time.perf_counter() - started) * 1000)
        if best is not None and best[0][0] == name and is_match(best[1], len(query)):
            found += 1
        else:
            missed.append(f"{name} / {variant}: {best and (best[0][0], best[1])}")
    stored = [(key, index.best(originals[key])) for key in list(originals)[:1]]
    brute = []
    for _, _, query in queries[:3]:
        started = time.perf_counter()
        max(score(query, other) for other in others)
        brute.append((time.perf_counter() - started) * 1000)

    without = build_index(others, originals, with_originals=False)
    false_at_scale = sum(1 for _, _, query in queries
                         if (best := without.best(query)) is not None and is_match(best[1], len(query)))
    pairs = [(a, b, v) for a, b in itertools.combinations(clips, 2) for v in VARIANTS]
    false_pairs = sum(is_match(score(q := fingerprint(VARIANTS[v](clips[a], 3)), originals[b]), len(q))
                      for a, b, v in pairs)
    figures = {
        "benchmark": "fingerprint_match", "recent_calls_indexed": len(index), "index_build_seconds": round(build_seconds, 1),
        "index_megabytes": round(index.nbytes() / 1e6, 1),
        "hashes_per_fingerprint_mean": round(sum(len(h) for h in others) / max(len(others), 1)),
        "match_ms_p50": round(percentile(times, 50), 2), "match_ms_p99": round(percentile(times, 99), 2),
        "match_ms_max": round(max(times), 2), "baseline_brute_force_ms_mean": round(sum(brute) / len(brute), 1),
        "ratio_index_vs_brute_force_p50": ratio(percentile(times, 50), sum(brute) / len(brute)),
        "same_recording_pairs": len(queries), "same_recording_matched": found,
        "true_match_rate": round(found / len(queries), 3),
        "queries_against_index_without_their_original": len(queries), "false_matches_at_scale": false_at_scale,
        "different_recording_pairs": len(pairs), "different_pairs_matched": false_pairs,
        "false_match_rate_pairs": round(false_pairs / len(pairs), 3),
        "self_check": stored[0][1][0][0] == stored[0][0], "missed": missed[:10],
        "meets_targets": percentile(times, 99) <= 20.0,
    }
    emit(figures, f"fingerprint match vs {len(index)} recent calls: p50 {figures['match_ms_p50']} ms, "
                  f"p99 {figures['match_ms_p99']} ms (brute force {figures['baseline_brute_force_ms_mean']} ms); "
                  f"same recording matched {found}/{len(queries)}; false matches {false_at_scale}/{len(queries)} at "
                  f"scale, {false_pairs}/{len(pairs)} between different recordings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
