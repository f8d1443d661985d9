import numpy as np

from datamodules.common.resumable_loading import ResumableDataLoader, ResumableDistributedSampler

LENGTHS = np.random.default_rng(0).integers(5, 128, size=1000)


def make_loader(rank=0, world=1, seed=7, bucket_window=16, num_workers=0):
    sampler = ResumableDistributedSampler(list(range(1000)), num_replicas=world, rank=rank, shuffle=True,
                                          drop_last=True, seed=seed, lengths=LENGTHS, batch_size=32,
                                          bucket_window=bucket_window)
    return ResumableDataLoader(list(range(1000)), batch_size=32, sampler=sampler, num_workers=num_workers,
                               collate_fn=list)


def epoch_order(loader, epoch):
    loader.sampler.set_epoch(epoch)
    return [i for batch in loader for i in batch]


def test_every_item_once_in_similar_length_batches_a_fresh_order_each_epoch_fixed_by_seed():
    loader = make_loader()
    epochs = [epoch_order(loader, 0), epoch_order(loader, 1)]
    assert all(sorted(order) == list(range(1000)) for order in epochs)
    assert epochs[0] != epochs[1] and epoch_order(make_loader(), 0) == epochs[0]
    assert epoch_order(make_loader(seed=8), 0) != epochs[0]

    def mean_padding(order):
        batches = [LENGTHS[order[i:i + 32]] for i in range(0, 992, 32)]
        return np.mean([(b.max() - b).mean() for b in batches])

    assert mean_padding(epochs[0]) < 0.1 * mean_padding(epoch_order(make_loader(bucket_window=0), 0))


def test_two_ranks_split_each_bucket():
    ranks = [epoch_order(make_loader(rank=r, world=2), 0) for r in range(2)]
    assert sorted(ranks[0] + ranks[1]) == list(range(1000))
    first = [LENGTHS[order[:32]] for order in ranks]  # both ranks' first batches come from one bucket
    assert abs(int(first[0].max()) - int(first[1].max())) <= 2


def test_state_resumes_mid_epoch_and_after_the_last_batch_with_workers():
    reference = make_loader(num_workers=2)
    reference.sampler.set_epoch(3)
    batches = iter(reference)
    done = [next(batches) for _ in range(5)]
    state = reference.state_dict()
    assert state == {"epoch": 3, "seed": 7, "batches_done": 5}
    rest = list(batches)
    assert reference.state_dict()["batches_done"] == len(reference) == 32

    resumed = make_loader(seed=123, num_workers=2)  # the seed comes from the state, as the epoch does
    resumed.load_state_dict(state)
    assert list(resumed) == rest and resumed.state_dict() == {"epoch": 3, "seed": 7, "batches_done": 32}
    assert len(done) + len(rest) == 32

    after_last = make_loader()
    after_last.load_state_dict(reference.state_dict())  # saved on the epoch's last batch: the next epoch
    assert [i for batch in after_last for i in batch] == epoch_order(make_loader(), 4)
    assert after_last.state_dict()["epoch"] == 4
