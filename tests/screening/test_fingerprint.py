"""Audio fingerprints: the same recording matches through gain, noise and shifts; different ones do not."""
import itertools

import numpy as np
import pytest

from ivr.screening.fingerprint import FingerprintIndex, fingerprint, from_bytes, is_match, score, to_bytes

from audio_variants import VARIANTS, recordings

RECORDINGS = recordings()
SAME = [(name, variant) for name in RECORDINGS for variant in VARIANTS]
DIFFERENT = [(a, b, variant) for a, b in itertools.combinations(RECORDINGS, 2) for variant in list(VARIANTS)[:6]]


@pytest.fixture(scope="module")
def originals():
    return {name: fingerprint(pcm) for name, pcm in RECORDINGS.items()}


def test_enough_pairs_are_tested():
    assert len(SAME) >= 50 and len(DIFFERENT) >= 50


@pytest.mark.parametrize("name, variant", SAME)
def test_same_recording_altered_still_matches(originals, name, variant):
    query = fingerprint(VARIANTS[variant](RECORDINGS[name], list(VARIANTS).index(variant)))
    assert is_match(score(query, originals[name]), len(query))


@pytest.mark.parametrize("a, b, variant", DIFFERENT)
def test_different_recordings_do_not_match(originals, a, b, variant):
    query = fingerprint(VARIANTS[variant](RECORDINGS[a], 7))
    assert not is_match(score(query, originals[b]), len(query))


@pytest.mark.parametrize("pcm", [
    np.zeros(40_000, np.int16),                                  # 5 s of silence
    (np.random.default_rng(1).normal(0, 20, 40_000)).astype(np.int16),   # line hiss, far below speech
    RECORDINGS["emergency_fire"][:1600],                         # a 200 ms call
    RECORDINGS["emergency_fire"][:7000],                         # under a second
    np.zeros(0, np.int16),
])
def test_silence_and_very_short_calls_have_no_fingerprint(pcm):
    assert fingerprint(pcm) is None


def test_fingerprint_round_trips_through_bytes(originals):
    hashes = originals["spam_prize"]
    assert np.array_equal(from_bytes(to_bytes(hashes)), hashes)


def test_index_finds_the_same_recording_among_others_and_forgets_past_capacity(originals):
    index = FingerprintIndex(capacity=3, merge_every=2)
    for n, name in enumerate(["complaint_noise", "emergency_fire", "emergency_knife", "inquiry_passport"]):
        index.add(f"CA{n}", f"+9198{n}", originals[name])
    query = fingerprint(VARIANTS["noise 15 dB"](RECORDINGS["emergency_knife"], 3))
    (key, number), matches = index.best(query)
    assert (key, number) == ("CA2", "+91982") and is_match(matches, len(query))
    assert index.best(query, exclude="CA2")[1] < 12
    forgotten = index.best(originals["complaint_noise"])            # CA0 fell out of the window of 3
    assert forgotten is None or forgotten[0][0] != "CA0"
    assert len(index) == 3
