"""The set of documents seen so far, at about 10 bytes per document: the corpus-wide duplicate filter.

A Python set of 16-byte digests costs 80-100 bytes per document (a bytes object, its slot and the
table's spare room). Here each document is one 8-byte digest in a sorted ``array('Q')``. New digests
wait in a small Python set until they number 1/64 of the array, then are appended and merged in place: the
waiting set adds about 1.5 bytes per document, the merges copy each digest about 65 times in all.
A lookup bisects only the digests that share its top bits (16 on average, from a table of where
each prefix starts: 0.5 bytes per document): about 3 us per document with the hashing (a Python set:
1.5 us), beside about 10 us to read a review and hundreds to make its instances.

Two different documents share a 64-bit digest with probability about n^2 / 2^65 over n documents:
1e-7 at 2 million documents, 3e-4 at 100 million. A collision drops one document as a duplicate,
which no pretraining run can notice; ruling it out (16-byte digests) would double the memory.
"""
from __future__ import annotations

import bisect
import hashlib
from array import array

import numpy as np

MIN_RECENT = 1 << 14  # digests waiting before a merge while the array is small: a merge has a fixed cost
RECENT_SHARE = 64  # later, up to 1/RECENT_SHARE of the array waits
DIGESTS_PER_PREFIX = 16  # on average, at least: the bisect after the table lookup takes ~4 steps


class DigestSet:
    def __init__(self):
        self._sorted = array("Q")
        self._recent: set[int] = set()
        self._index_prefixes()

    def add(self, data: bytes) -> bool:
        """Remember ``data``; False if it was seen before (its digest was)."""
        digest = int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")
        if digest in self._recent:
            return False
        prefix = digest >> self._shift
        end = self._starts[prefix + 1]
        i = bisect.bisect_left(self._sorted, digest, self._starts[prefix], end)
        if i < end and self._sorted[i] == digest:
            return False
        self._recent.add(digest)
        if len(self._recent) >= self._merge_at:
            self._merge()
        return True

    def _merge(self) -> None:
        # The array grows in place (realloc), so a merge never holds two copies of it.
        merged = len(self._sorted)
        self._sorted.extend(self._recent)
        self._recent = set()
        view = np.frombuffer(self._sorted, dtype=np.uint64)
        view[merged:].sort()
        view.sort(kind="stable")  # timsort: the two sorted runs are merged in one linear pass
        del view  # the array cannot grow while a view of it exists
        self._index_prefixes()

    def _index_prefixes(self) -> None:
        """``_starts[p]``: where the digests whose top bits are ``p`` start (and ``p - 1``'s end)."""
        bits = max(1, (len(self._sorted) // DIGESTS_PER_PREFIX).bit_length() - 1)
        self._shift = 64 - bits
        view = np.frombuffer(self._sorted, dtype=np.uint64)
        starts = view.searchsorted(np.arange(1 << bits, dtype=np.uint64) << np.uint64(self._shift))
        self._starts = array("Q", np.append(starts, len(view)).astype(np.uint64).tobytes())
        self._merge_at = max(MIN_RECENT, len(view) // RECENT_SHARE)
