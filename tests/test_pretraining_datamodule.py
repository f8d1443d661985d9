import contextlib
from types import SimpleNamespace

import pytest
import torch

from conftest import SAMPLE, SAMPLE_VOCAB_SIZE
from datamodules.common.errors import UserInputError
from datamodules.pretraining.datamodule import PretrainingDataModule


def make_datamodule(path, rank=0, world=1, **kwargs):
    dm = PretrainingDataModule(train_files=str(path), **kwargs)
    dm.trainer = SimpleNamespace(world_size=world, global_rank=rank)
    dm.setup("fit")
    return dm


def seen(loader, epoch=0):
    loader.sampler.set_epoch(epoch)
    return [int(i) for batch in loader for i in batch["record_index"]]


def test_two_ranks_two_workers_see_disjoint_records_covering_the_shard(sample_tfrecord):
    total = len(make_datamodule(sample_tfrecord).train_set)
    per_rank = []
    odd = pytest.warns(UserWarning, match=f"1 of {total} training records are left out")
    with odd if total % 2 else contextlib.nullcontext():
        for rank in range(2):
            dm = make_datamodule(sample_tfrecord, rank=rank, world=2, batch_size=64, num_workers=2)
            per_rank.append(seen(dm.train_dataloader()))
    a, b = per_rank
    assert len(a) == len(b) == total // 2
    assert len(set(a)) == len(a) and len(set(b)) == len(b) and not set(a) & set(b)
    assert len(set(a) | set(b)) == total - total % 2


def test_odd_count_leaves_out_a_different_record_each_epoch_with_a_warning(sample_tfrecord):
    path = sample_tfrecord  # 2000 records
    dm = PretrainingDataModule(train_files=str(path), val_fraction=0.0005, batch_size=100)  # 1 val, 1999 train
    dm.trainer = SimpleNamespace(world_size=2, global_rank=0)
    dm.setup("fit")
    with pytest.warns(UserWarning, match="1 of 1999 training records are left out each epoch"):
        loader = dm.train_dataloader()
    left_out = []
    for epoch in range(3):
        dm_other = PretrainingDataModule(train_files=str(path), val_fraction=0.0005, batch_size=100)
        dm_other.trainer = SimpleNamespace(world_size=2, global_rank=1)
        dm_other.setup("fit")
        other = dm_other.train_dataloader()
        both = set(seen(loader, epoch)) | set(seen(other, epoch))
        assert len(both) == 1998
        left_out.append(set(dm.train_set.indices) - both)
    assert len({frozenset(x) for x in left_out}) > 1


def test_epochs_reshuffle_and_batches_trim_padding(sample_tfrecord):
    dm = make_datamodule(sample_tfrecord, batch_size=16)
    loader = dm.train_dataloader()
    assert seen(loader, 0) != seen(loader, 1)
    assert sorted(seen(loader, 0)) == sorted(seen(loader, 1)) == list(range(2000))
    batch = next(iter(loader))
    assert batch["input_ids"].shape[1] == int(batch["input_mask"].sum(1).max()) < 128
    assert batch["masked_lm_positions"].max() < batch["input_ids"].shape[1]
    untrimmed = next(iter(make_datamodule(sample_tfrecord, trim_padding=False).train_dataloader()))
    assert untrimmed["input_ids"].shape[1] == 128
    assert batch["input_mask"].dtype == torch.int64


def test_validation_fraction_and_files(sample_tfrecord, sample_tfrecord_512):
    path = sample_tfrecord
    dm = make_datamodule(path, val_fraction=0.1)
    assert len(dm.val_set) == 200 and len(dm.train_set) == 1800
    assert not set(dm.val_set.indices) & set(dm.train_set.indices)
    dm2 = PretrainingDataModule(train_files=str(path), val_files=str(sample_tfrecord_512))
    dm2.setup("fit")
    assert len(dm2.val_set) == 4 and len(dm2.train_set) == 2000


def test_model_limits_are_checked(sample_tfrecord, sample_tfrecord_512, sample_spm):
    dm = make_datamodule(sample_tfrecord_512, batch_size=40)
    with pytest.raises(UserInputError,
                       match="max_seq_length 512 is larger than the model's max_position_embeddings 128"):
        dm.check_model_limits(vocab_size=SAMPLE_VOCAB_SIZE, max_position_embeddings=128)
    dm.check_model_limits(vocab_size=100, max_position_embeddings=512)
    with pytest.raises(UserInputError,
                       match=r"long-00000.tfrecord: token id [1-3]\d\d .* >= the model's vocab_size 100"):
        next(iter(dm.train_dataloader()))
    with_tokenizer = PretrainingDataModule(train_files=str(sample_tfrecord), tokenizer=str(sample_spm))
    with_tokenizer.setup("fit")
    with pytest.raises(UserInputError, match=f"has {SAMPLE_VOCAB_SIZE} pieces but the model's vocab_size is 300"):
        with_tokenizer.check_model_limits(vocab_size=300, max_position_embeddings=512)
    stored = with_tokenizer.state_dict()["tokenizer"]
    assert stored["file_name"] == "spm.model" and stored["vocab_size"] == SAMPLE_VOCAB_SIZE
    assert stored["data"] == sample_spm.read_bytes()


def test_missing_files(tmp_path):
    dm = PretrainingDataModule(train_files=str(tmp_path / "*.tfrecord"))
    with pytest.raises(UserInputError, match=r"data.train_files '.*\*.tfrecord' matches no file"):
        dm.setup("fit")


def padding_ratio(loader, epoch):
    loader.sampler.set_epoch(epoch)
    batches = list(loader)
    return sum(b["input_ids"].numel() for b in batches) / sum(int(b["input_mask"].sum()) for b in batches)


def test_length_bucketing_cuts_padding_keeps_every_record_and_is_fixed_by_seed_and_epoch(sample_tfrecord):
    path = sample_tfrecord  # 22 to 119 real tokens of 128
    bucketed = make_datamodule(path, batch_size=32).train_dataloader()
    unbucketed = make_datamodule(path, batch_size=32, bucket_window=0).train_dataloader()
    assert padding_ratio(bucketed, 0) < 1.15 and padding_ratio(unbucketed, 0) > 1.5
    assert sorted(seen(bucketed, 1)) == list(range(2000))
    again = make_datamodule(path, batch_size=32).train_dataloader()
    assert seen(again, 1) == seen(bucketed, 1) != seen(bucketed, 2)
    with pytest.raises(UserInputError, match="data.bucket_window must be >= 0"):
        PretrainingDataModule(train_files=str(path), bucket_window=-1)


def test_bucketed_ranks_step_with_similar_lengths_and_resume_mid_epoch(sample_tfrecord):
    path = sample_tfrecord
    ranks = [make_datamodule(path, rank=r, world=2, batch_size=16, val_fraction=0.1).train_dataloader()
             for r in range(2)]
    for loader in ranks:
        loader.sampler.set_epoch(1)
    steps = list(zip(*ranks))
    assert len(steps) == 900 // 16 + 1  # 900 records per rank, the short batch last
    widths = [(a["input_ids"].shape[1], b["input_ids"].shape[1]) for a, b in steps]
    assert sum(abs(x - y) for x, y in widths) / len(widths) < 3  # one bucket dealt to both ranks
    full = seen(ranks[1], 1)
    resumed = make_datamodule(path, rank=1, world=2, batch_size=16, val_fraction=0.1)
    resumed.load_state_dict({"train_position": {"epoch": 1, "batches_done": 5}})
    assert seen(resumed.train_dataloader(), 1) == full[5 * 16:]


def test_lengths_from_the_sidecars_give_the_batches_reading_the_records_gives(sample_spm, tmp_path):
    from datamodules.pretraining.data_creation import create_pretraining_data
    from datamodules.pretraining.instances import MaskingConfig

    create_pretraining_data(str(SAMPLE / "reviews.txt"), str(tmp_path / "t.tfrecord"), str(sample_spm),  # 1500 reviews
                            MaskingConfig(max_seq_length=64), dupe_factor=1, documents_per_piece=400, progress=False)

    def batches():
        dm = make_datamodule(tmp_path / "t-*.tfrecord", batch_size=8, val_fraction=0.1, bucket_window=4)
        records = dm.train_set.dataset
        return records.real_lengths(), [batch["input_ids"].tolist() for batch in dm.train_dataloader()]

    stored_lengths, stored = batches()
    sidecars = sorted(tmp_path.glob("*.lengths"))
    assert len(sidecars) == 4 and stored_lengths.dtype.itemsize == 2
    for sidecar in sidecars:
        sidecar.unlink()  # as for shards written by Google's script
    read_lengths, read = batches()
    assert stored_lengths.tolist() == read_lengths.tolist()
    assert stored == read
