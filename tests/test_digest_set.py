"""The duplicate filter's set of digests: the answers a set of the texts gives, in about 10 bytes per text."""
import random
import tracemalloc

import datamodules.text.digest_set as digest_set
from datamodules.text.digest_set import DigestSet


def test_answers_as_a_set_of_the_texts_would_across_many_merges(monkeypatch):
    monkeypatch.setattr(digest_set, "MIN_RECENT", 64)  # many merges, and a growing prefix table
    monkeypatch.setattr(digest_set, "RECENT_SHARE", 4)
    rng = random.Random(0)
    texts = [f"review {rng.randrange(30_000)}".encode() for _ in range(40_000)]  # about a third are repeats
    seen, expected = set(), []
    for text in texts:
        expected.append(text not in seen)
        seen.add(text)
    digests = DigestSet()
    assert [digests.add(text) for text in texts] == expected
    assert not any(digests.add(text) for text in seen)


def test_memory_is_about_ten_bytes_per_text(monkeypatch):
    monkeypatch.setattr(digest_set, "MIN_RECENT", 1024)  # as for millions of texts, where 1/64 of them wait
    n = 100_000
    texts = [f"review {i}".encode() for i in range(n)]
    tracemalloc.start()
    try:
        digests = DigestSet()
        for text in texts:
            digests.add(text)
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held / n < 12 and peak / n < 14, (held / n, peak / n)  # a set of 16-byte digests: 80-100
