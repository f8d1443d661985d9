"""TFRecord pretraining DataModule: Google-schema shards -> batches, sharded across ranks and workers.

The records form one map-style dataset (random access through each shard's index, built by a
header scan when no ``.index`` file exists). Splitting work is left to a ``DistributedSampler``
the DataModule builds itself (``datamodules/common/resumable_loading.py``, which also resumes mid-epoch),
with the trainer's rank and world size: every rank gets a disjoint,
equal share of one seeded permutation per epoch, and DataLoader workers split that share by batch.
So no record is seen twice in an epoch on any number of ranks x workers (the ``tfrecord`` package's
iterable reader repeats data per worker and ignores DDP ranks), and Lightning keeps our sampler
instead of adding its own. A global permutation replaces a shuffle buffer: it shuffles fully.

Batches are trimmed to their longest real sequence: attention masks padding anyway, and positions
are absolute, so outputs on real tokens (and the loss) are unchanged while padding costs nothing.
Training batches are also length-bucketed (``datamodules/common/length_buckets.py``): records of similar
length share a batch, so trimming saves most of the padding (reviews of ~37 real tokens in 128 pad
1.85x in random batches of 32, 1.07x bucketed). Bucketing regroups the whole epoch's order before it
is dealt to the ranks, so at each step every rank gets a batch of similar length and none waits.
Every record still comes once per epoch and each batch's loss is computed as before; SOP is a mean
per sequence, so its expectation is unchanged, while the MLM loss is a mean over each batch's masked
tokens, so a batch of short records weights each of its (fewer) masked tokens a little more than a
random batch would: the trade every length-grouping scheme (NVIDIA's LDDL bins, HF group_by_length)
makes. ``bucket_window: 0`` gives fully random batches.
"""
from __future__ import annotations

import os
from typing import Optional, Union

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch.utils.data import DataLoader, Dataset, Subset

from datamodules.common.errors import UserInputError
from datamodules.common.files import expand_input_files
from datamodules.common.resumable_loading import ResumableDataLoader, ResumableDistributedSampler
from datamodules.pretraining.tfrecord_io import parse_example, read_record, record_offsets, stored_real_lengths
from datamodules.text.tokenizer_state import tokenizer_state


class PretrainingRecords(Dataset):
    """Random access to the records of several TFRecord shards; item = dict of tensors + ``record_index``."""

    def __init__(self, files: list[str], skip_corrupt: bool = False):
        self.files = files
        tables = [record_offsets(f, skip_truncated_tail=skip_corrupt) for f in files]
        empty = [f for f, t in zip(files, tables) if len(t) == 0]
        if empty:
            raise UserInputError(f"{empty[0]}: TFRecord file holds no records")
        # The record table, 16 bytes a record: (offset, framed length) of record i, and where each file's
        # records begin (the file of a record is found by binary search, not stored per record).
        self.offsets = np.concatenate(tables)
        self.file_starts = np.cumsum([0] + [len(t) for t in tables])
        self.vocab_size: Optional[int] = None  # set by check_model_limits: ids must stay below it
        self._real_lengths: Optional[np.ndarray] = None
        self._handles: dict[int, object] = {}
        self._pid = os.getpid()

    def __len__(self) -> int:
        return len(self.offsets)

    MAX_OPEN_FILES = 64  # per process: thousands of shards must not exhaust file descriptors

    def _file(self, i: int):
        if self._pid != os.getpid():  # a forked DataLoader worker must not share the parent's file offsets
            self._handles, self._pid = {}, os.getpid()
        handle = self._handles.pop(i, None) or open(self.files[i], "rb")
        self._handles[i] = handle  # most recently used last
        if len(self._handles) > self.MAX_OPEN_FILES:
            self._handles.pop(next(iter(self._handles))).close()
        return handle

    def example(self, index: int) -> dict[str, np.ndarray]:
        file_index = int(np.searchsorted(self.file_starts, index, side="right")) - 1
        path = self.files[file_index]
        offset, length = (int(x) for x in self.offsets[index])
        data = read_record(self._file(file_index), path, offset, length)
        try:
            example = parse_example(data)
        except KeyError as e:
            raise UserInputError(f"{path}: record at byte offset {offset} lacks the feature {e.args[0]!r}") from None
        except Exception as e:  # protobuf's DecodeError: the CRC matched but the bytes are no Example
            raise UserInputError(f"{path}: record at byte offset {offset} is not a tf.train.Example ({e})") from None
        if self.vocab_size is not None:
            top = int(max(example["input_ids"].max(), example["masked_lm_ids"].max()))
            if top >= self.vocab_size:
                raise UserInputError(f"{path}: token id {top} (record at byte offset {offset}) is >= the model's "
                                     f"vocab_size {self.vocab_size}; raise model.vocab_size or use the right data")
        return example

    def real_lengths(self) -> np.ndarray:
        """Real (unpadded) tokens of every record (uint16): from each shard's ``.lengths`` sidecar where our
        writer left one, else read from the records (tens of microseconds a record); then kept."""
        if self._real_lengths is None:
            parts = []
            for i, path in enumerate(self.files):
                start, end = int(self.file_starts[i]), int(self.file_starts[i + 1])
                stored = stored_real_lengths(path, end - start)
                parts.append(stored if stored is not None else np.fromiter(
                    (int(self.example(r)["input_mask"].sum()) for r in range(start, end)), dtype=np.uint16,
                    count=end - start))
            self._real_lengths = np.concatenate(parts).astype(np.uint16, copy=False)
        return self._real_lengths

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        item = {k: torch.from_numpy(v) for k, v in self.example(index).items()}
        item["record_index"] = torch.tensor(index)
        return item

    def __getstate__(self):  # open files do not pickle into spawned workers
        return {**self.__dict__, "_handles": {}}


def collate_pretraining(items: list[dict[str, torch.Tensor]], trim_padding: bool = True) -> dict[str, torch.Tensor]:
    batch = {k: torch.stack([item[k] for item in items]) for k in items[0]}
    if trim_padding:
        length = int(batch["input_mask"].sum(1).max())
        for k in ("input_ids", "input_mask", "segment_ids"):
            batch[k] = batch[k][:, :length]
    return batch


class PretrainingDataModule(pl.LightningDataModule):
    """Batches of Google-schema pretraining records from TFRecord shards.

    Args:
        train_files: glob(s) or list of TFRecord shards (comma-separated globs work too).
        val_files: shards for validation; if absent, ``val_fraction`` of the training records is held out.
        val_fraction: share of training records held out for validation when ``val_files`` is not given.
        batch_size: sequences per device per step.
        num_workers: DataLoader worker processes per device.
        tokenizer: SentencePiece ``.model`` or WordPiece ``vocab.txt`` the data was made with; checked
            against the model's vocab_size and stored in checkpoints for the later stages.
        do_lower_case: how the tokenizer lower-cases (stored with it).
        shuffle: reshuffle the training records every epoch.
        seed: seed of the shuffle and of the validation hold-out.
        trim_padding: cut each batch to its longest real sequence (same loss, less compute).
        bucket_window: group training records of similar length into batches, sorting within windows of
            this many batches of the shuffled epoch (see the module docstring); 0 = fully random batches.
            Record lengths come from each shard's ``.lengths`` file (written by create_pretraining_data),
            else are read once at the start (tens of microseconds a record).
        skip_corrupt: leave out, with a warning, a truncated last record (a job killed while writing data)
            instead of stopping with an error.
    """

    def __init__(
        self,
        train_files: Union[str, list[str], None] = None,
        val_files: Union[str, list[str], None] = None,
        val_fraction: float = 0.0,
        batch_size: int = 32,
        num_workers: int = 0,
        tokenizer: Optional[str] = None,
        do_lower_case: bool = True,
        shuffle: bool = True,
        seed: int = 0,
        trim_padding: bool = True,
        bucket_window: int = 16,
        skip_corrupt: bool = False,
    ):
        super().__init__()
        if not 0.0 <= val_fraction < 1.0:
            raise UserInputError(f"data.val_fraction must be in [0, 1), got {val_fraction}")
        if batch_size < 1 or num_workers < 0:
            raise UserInputError(f"data.batch_size must be >= 1 and data.num_workers >= 0, "
                                 f"got {batch_size}, {num_workers}")
        if bucket_window < 0:
            raise UserInputError(f"data.bucket_window must be >= 0 (batches per window; 0 = off), got {bucket_window}")
        self.save_hyperparameters()
        self.train_set: Optional[Dataset] = None
        self.val_set: Optional[Dataset] = None
        self.tokenizer_state: Optional[dict] = None
        self._legacy_position: Optional[dict] = None  # {epoch, batches_done} in older checkpoints

    def setup(self, stage: str) -> None:
        hp = self.hparams
        if self.train_set is not None or self.val_set is not None:
            return
        if hp.tokenizer:
            self.tokenizer_state = tokenizer_state(hp.tokenizer, hp.do_lower_case)
        if stage == "fit" or hp.val_files is None:
            if hp.train_files is None:
                raise UserInputError("data.train_files is required (a glob or list of TFRecord files)")
            train = PretrainingRecords(expand_input_files(hp.train_files, "data.train_files"), hp.skip_corrupt)
        if hp.val_files is not None:
            self.val_set = PretrainingRecords(expand_input_files(hp.val_files, "data.val_files"), hp.skip_corrupt)
            self.train_set = train if stage == "fit" else None
        elif hp.val_fraction > 0:
            order = np.random.default_rng(hp.seed).permutation(len(train))
            n_val = max(1, int(round(len(train) * hp.val_fraction)))
            self.val_set = Subset(train, np.sort(order[:n_val]).tolist())
            self.train_set = Subset(train, np.sort(order[n_val:]).tolist())
        else:
            self.train_set = train

    @staticmethod
    def _records(dataset: Dataset) -> PretrainingRecords:
        return dataset.dataset if isinstance(dataset, Subset) else dataset

    def _real_lengths(self, dataset: Dataset) -> np.ndarray:
        lengths = self._records(dataset).real_lengths()
        return lengths[dataset.indices] if isinstance(dataset, Subset) else lengths

    def check_model_limits(self, vocab_size: int, max_position_embeddings: int) -> None:
        """Called by the model's ``setup``: refuse data or a tokenizer the model cannot embed."""
        pieces = self.tokenizer_state["vocab_size"] if self.tokenizer_state else None
        if pieces is not None and pieces > vocab_size:
            raise UserInputError(
                f"data.tokenizer {self.hparams.tokenizer} has {pieces} pieces but the model's vocab_size is "
                f"{vocab_size}; leave model.vocab_size unset (it takes the tokenizer's) or set it >= {pieces}")
        if pieces is not None and pieces < vocab_size:
            rank_zero_warn(f"the model's vocab_size {vocab_size} is larger than data.tokenizer's {pieces} pieces: "
                           f"{vocab_size - pieces} embedding rows are never used (leave model.vocab_size unset to "
                           f"take the tokenizer's)")
        for dataset in (self.train_set, self.val_set):
            if dataset is None:
                continue
            records = self._records(dataset)
            seq_len = len(records.example(0)["input_ids"])
            records.vocab_size = vocab_size
            if seq_len > max_position_embeddings:
                raise UserInputError(
                    f"{records.files[0]}: max_seq_length {seq_len} is larger than the model's "
                    f"max_position_embeddings {max_position_embeddings}")

    def _loader(self, dataset: Dataset, train: bool) -> DataLoader:
        trainer = self.trainer
        world, rank = (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)
        if train and len(dataset) % world:
            which = "a different random few each epoch" if self.hparams.shuffle else "the last ones, as shuffle is off"
            rank_zero_warn(f"{len(dataset) % world} of {len(dataset)} training records are left out each epoch "
                           f"({which}) so that each of the {world} ranks gets the same number")
        if train and len(dataset) < world:
            raise UserInputError(f"only {len(dataset)} records for {world} ranks: every rank needs at least one")
        shuffle = train and self.hparams.shuffle
        bucketing = shuffle and self.hparams.bucket_window > 0
        sampler = ResumableDistributedSampler(
            dataset, num_replicas=world, rank=rank, drop_last=train, shuffle=shuffle, seed=self.hparams.seed,
            lengths=self._real_lengths(dataset) if bucketing else None, batch_size=self.hparams.batch_size,
            bucket_window=self.hparams.bucket_window)
        loader = (ResumableDataLoader if train else DataLoader)(
            dataset, batch_size=self.hparams.batch_size, sampler=sampler, num_workers=self.hparams.num_workers,
            collate_fn=collate_pretraining if self.hparams.trim_padding else _collate_untrimmed,
            persistent_workers=self.hparams.num_workers > 0, pin_memory=torch.cuda.is_available(),
            # Its own generator: starting an iterator then draws nothing from the global RNG, which stays
            # the model's (dropout), so a resumed run draws exactly what an uninterrupted one would.
            generator=torch.Generator().manual_seed(self.hparams.seed),
        )
        if train and self._legacy_position:  # a checkpoint from before loaders kept their own position
            loader.load_state_dict({**self._legacy_position, "seed": self.hparams.seed})
            self._legacy_position = None
        return loader

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, train=True)

    def val_dataloader(self) -> DataLoader:
        if self.val_set is None:
            return []
        return self._loader(self.val_set, train=False)

    def state_dict(self) -> dict:
        """Saved in every checkpoint: the tokenizer itself, so later stages need no path to it. (The
        position in the training epoch is the train loader's own state: ``ResumableDataLoader``.)"""
        return {"tokenizer": self.tokenizer_state} if self.tokenizer_state else {}

    def load_state_dict(self, state_dict: dict) -> None:
        self.tokenizer_state = state_dict.get("tokenizer") or self.tokenizer_state
        self._legacy_position = state_dict.get("train_position")


def _collate_untrimmed(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return collate_pretraining(items, trim_padding=False)
