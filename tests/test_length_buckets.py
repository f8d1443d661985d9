import numpy as np
import torch

from datamodules.common.length_buckets import bucketed_order


def test_batches_are_length_sorted_runs_of_one_window_and_the_remainder_comes_last():
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 128, size=103)
    order = rng.permutation(103)
    grouped = bucketed_order(order, lengths, batch_size=4, window_batches=5, generator=torch.Generator().manual_seed(1))
    assert sorted(grouped.tolist()) == list(range(103))  # every record once
    expected = set()
    for k in range(0, 100, 20):  # windows of 5 batches: sorted stably by length, then cut
        window = order[k:k + 20]
        by_length = window[np.argsort(lengths[window], kind="stable")]
        expected |= {tuple(by_length[b:b + 4]) for b in range(0, 20, 4)}
    assert {tuple(grouped[b:b + 4]) for b in range(0, 100, 4)} == expected
    assert grouped[100:].tolist() == sorted(order[100:], key=lambda i: lengths[i])  # the short remainder last


def test_the_generator_fixes_the_batch_order():
    lengths, order = np.arange(64), np.arange(64)
    a, b, c = (bucketed_order(order, lengths, 8, 8, torch.Generator().manual_seed(s)) for s in (3, 3, 4))
    assert (a == b).all() and not (a == c).all()
    assert a[:8].tolist() == list(range(a[0], a[0] + 8))  # one batch: eight neighbours in length
    assert a.tolist() != sorted(a.tolist())  # the batches themselves come in random order
