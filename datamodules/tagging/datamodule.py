"""Token-classification data: texts with character spans -> windows of sub-word ids with BIO labels.

Labelling (``label_scheme``): ``all`` labels every sub-token of an entity, B- on the entity's first
sub-token and I- on the rest; ``first`` labels only the first sub-token of each word (datamodules/tagging/words.py)
and gives the word's other sub-tokens -100, so the loss sees one decision per word, as the decoder
makes it. Whitespace-only pieces get -100 (ignored by the loss and metrics) either way. Texts longer
than ``max_seq_length - 2`` tokens are cut into overlapping windows, never truncated; evaluation and
prediction merge them back (datamodules/tagging/span_decoding.py).
Batches are padded to their longest sequence.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional, Union

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from datamodules.common.errors import UserInputError
from datamodules.common.resumable_loading import ResumableDataLoader, ResumableDistributedSampler
from datamodules.tagging.bio import label_index, label_names_for
from datamodules.tagging.span_labels import Span, TextExample, read_corpus
from datamodules.tagging.words import is_first_subtoken, word_ids
from datamodules.text.tokenization import Tokenizer, load_tokenizer
from datamodules.text.tokenizer_state import tokenizer_from_checkpoint, tokenizer_from_state, tokenizer_state

IGNORE_INDEX = -100
LABEL_SCHEMES = ("all", "first")


@dataclass
class EncodedText:
    example: TextExample  # the text and its gold spans (evaluation compares character spans)
    ids: list[int]
    offsets: list[tuple[int, int]]  # (start, end) in the original text per token
    labels: list[int]  # label id per token, IGNORE_INDEX for whitespace pieces


@dataclass
class TextEncoding:
    """How texts become a tagger's inputs, saved with the tagger for prediction: the tokenizer itself
    (``tokenizer_state.tokenizer_state``) and the windows (``max_seq_length`` with [CLS] and [SEP],
    ``window_overlap``)."""
    tokenizer: dict
    max_seq_length: int
    window_overlap: int


def token_labels(offsets: list[tuple[int, int]], spans: list[Span], label_index: dict[str, int]) -> list[int]:
    """BIO label id per token from character spans: B on the first token touching a span, I on the rest."""
    labels = []
    span_iter = iter(sorted(spans, key=lambda s: s.start))
    span = next(span_iter, None)
    inside = False
    for start, end in offsets:
        if start == end:
            labels.append(IGNORE_INDEX)
            continue
        while span is not None and start >= span.end:
            span, inside = next(span_iter, None), False
        if span is not None and start < span.end and end > span.start:
            labels.append(label_index[f"{'I' if inside else 'B'}-{span.type}"])
            inside = True
        else:
            labels.append(label_index["O"])
    return labels


def encode_text(tokenizer: Tokenizer, example: TextExample, label_index: dict[str, int],
                label_scheme: str = "all") -> EncodedText:
    """Ids, offsets and labels of a text; with ``label_scheme="first"`` only each word's first sub-token is labelled."""
    ids, offsets = tokenizer.encode_with_offsets(example.text)
    labels = token_labels(offsets, example.spans, label_index)
    if label_scheme == "first":
        first = is_first_subtoken(word_ids(example.text, offsets))
        labels = [label if keep else IGNORE_INDEX for label, keep in zip(labels, first)]
    return EncodedText(example, ids, offsets, labels)


def window_starts(n_tokens: int, window: int, overlap: int) -> list[int]:
    """Start of each window of ``window`` tokens covering ``n_tokens``, consecutive windows sharing ``overlap``."""
    if n_tokens <= window:
        return [0]
    stride = max(1, window - overlap)
    starts = list(range(0, n_tokens - window, stride))
    return starts + [n_tokens - window]


class TokenWindows(Dataset):
    """One item per window: ``input_ids`` with [CLS]/[SEP], ``labels``, and where it came from."""

    def __init__(self, encoded: list[EncodedText], tokenizer: Tokenizer, max_seq_length: int, overlap: int):
        self.encoded = encoded
        self.cls_id, self.sep_id = tokenizer.cls_id, tokenizer.sep_id
        window = max_seq_length - 2
        self.windows = [(i, s, min(s + window, len(e.ids)))
                        for i, e in enumerate(encoded) for s in window_starts(len(e.ids), window, overlap)]

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        text_index, start, end = self.windows[index]
        e = self.encoded[text_index]
        return {
            "input_ids": torch.tensor([self.cls_id, *e.ids[start:end], self.sep_id]),
            "labels": torch.tensor([IGNORE_INDEX, *e.labels[start:end], IGNORE_INDEX]),
            "text_index": torch.tensor(text_index),
            "window_start": torch.tensor(start),
        }


def collate_windows(items: list[dict[str, torch.Tensor]], pad_id: int = 0) -> dict[str, torch.Tensor]:
    """Pad to the longest window in the batch (not to max_seq_length)."""
    length = max(len(item["input_ids"]) for item in items)
    batch = {
        "input_ids": torch.full((len(items), length), pad_id, dtype=torch.long),
        "attention_mask": torch.zeros((len(items), length), dtype=torch.long),
        "labels": torch.full((len(items), length), IGNORE_INDEX, dtype=torch.long),
    }
    for row, item in enumerate(items):
        n = len(item["input_ids"])
        batch["input_ids"][row, :n] = item["input_ids"]
        batch["attention_mask"][row, :n] = 1
        batch["labels"][row, :n] = item["labels"]
    batch["text_index"] = torch.stack([item["text_index"] for item in items])
    batch["window_start"] = torch.stack([item["window_start"] for item in items])
    return batch


class TokenClassificationDataModule(pl.LightningDataModule):
    """Span-labelled texts (seed CSV ``review,dish_name`` or CoNLL/BIO) for token classification.

    Args:
        train_file, val_file, test_file: a CSV or BIO file (chosen by extension, else by content), or a
            list of them: the split is their examples in order (several corpora trained as one).
        tokenizer: SentencePiece ``.model`` or WordPiece ``vocab.txt``; when absent, the one stored in
            ``tokenizer_checkpoint`` is used.
        tokenizer_checkpoint: where to find a stored tokenizer when ``tokenizer`` is absent: our ``.ckpt``
            or a HF directory (linked from ``model.init_from``; for test/validate, the evaluated checkpoint).
        do_lower_case: lower-case before tokenizing (as in pretraining).
        entity_types: keep only these entity types (``Dish``, ``Dish,Cuisine`` or a list, after ``label_map``;
            any case); default all. Texts left without entities stay, as negatives.
        label_map: rename entity types while reading, e.g. ``{MENU: Dish, DISH: Dish}`` to train one
            type from corpora that spell it differently (keys in any case; a key found in no file is an error).
        max_seq_length: longest window, [CLS] and [SEP] included; longer texts become overlapping windows.
        window_overlap: tokens shared by consecutive windows.
        batch_size: windows per batch.
        num_workers: DataLoader workers.
        labels: the model's BIO labels (``O`` first); default: from the types in the first split given.
            Evaluating a checkpoint (``--ckpt_path``) sets them from the checkpoint.
        label_scheme: ``all`` (every sub-token of an entity labelled) or ``first`` (only the first
            sub-token of each word; the others are ignored by the loss). Linked into the model, which
            decodes words the same way (datamodules/tagging/span_decoding.py).
        bucket_window: training batches group windows of similar length, sorted within spans of this
            many batches of a fresh shuffle each epoch (``datamodules/common/length_buckets.py``), so less
            padding is computed; 0 gives fully random batches. Evaluation keeps the files' order.
    """

    def __init__(
        self,
        train_file: Union[str, list[str], None] = None,
        val_file: Union[str, list[str], None] = None,
        test_file: Union[str, list[str], None] = None,
        tokenizer: Optional[str] = None,
        tokenizer_checkpoint: Optional[str] = None,
        do_lower_case: bool = True,
        entity_types: Union[str, list[str], None] = None,
        label_map: Optional[dict[str, str]] = None,
        max_seq_length: int = 128,
        window_overlap: int = 32,
        batch_size: int = 32,
        num_workers: int = 0,
        labels: Optional[list[str]] = None,
        label_scheme: Literal["all", "first"] = "all",
        bucket_window: int = 16,
    ):
        super().__init__()
        if label_scheme not in LABEL_SCHEMES:
            raise UserInputError(f"data.label_scheme must be one of {', '.join(LABEL_SCHEMES)}, got {label_scheme!r}")
        if bucket_window < 0:
            raise UserInputError(f"data.bucket_window must be >= 0 (batches per window; 0 = off), got {bucket_window}")
        if max_seq_length < 8 or not 0 <= window_overlap < max_seq_length - 2:
            raise UserInputError(f"data.max_seq_length must be >= 8 and 0 <= data.window_overlap < max_seq_length - 2, "
                                 f"got {max_seq_length} and {window_overlap}")
        if isinstance(entity_types, str):
            entity_types = [t.strip() for t in entity_types.split(",") if t.strip()]
        self.save_hyperparameters()
        self.files = {split: [value] if isinstance(value, str) else list(value) for split, value in
                      (("train", train_file), ("val", val_file), ("test", test_file)) if value}
        if not self.files:
            raise UserInputError("give data.train_file, data.val_file or data.test_file")
        by_file = read_corpus([p for paths in self.files.values() for p in paths], entity_types, label_map)
        self.examples = {split: [e for p in paths for e in by_file[p]] for split, paths in self.files.items()}
        first = "train" if "train" in self.files else next(iter(self.files))
        if labels:
            types, source = {name[2:] for name in labels if name != "O"}, "the checkpoint's labels"
        else:
            types, source = {s.type for e in self.examples[first] for s in e.spans}, ", ".join(self.files[first])
        if not types:
            raise UserInputError(f"{', '.join(self.files[first])}: no labelled spans"
                                 + (f" of types {entity_types}" if entity_types else ""))
        for path in dict.fromkeys(p for paths in self.files.values() for p in paths):
            unseen = sorted({s.type for e in by_file[path] for s in e.spans} - types)
            if unseen:
                raise UserInputError(f"{path}: entity type(s) {unseen} do not occur in "
                                     f"{source} (types there: {sorted(types)})")
        self.label_names = list(labels) if labels else label_names_for(types)
        self.label_scheme = label_scheme
        self.tokenizer, self.tokenizer_state = self._load_tokenizer()
        self.datasets: dict[str, TokenWindows] = {}
        self._order_seed: Optional[int] = None

    def _load_tokenizer(self) -> tuple[Tokenizer, dict]:
        hp = self.hparams
        if hp.tokenizer:
            tokenizer = load_tokenizer(hp.tokenizer, hp.do_lower_case)
            return tokenizer, tokenizer_state(hp.tokenizer, hp.do_lower_case, tokenizer)
        if hp.tokenizer_checkpoint:
            state = tokenizer_from_checkpoint(hp.tokenizer_checkpoint)
            if state is not None:
                return tokenizer_from_state(state), state
        raise UserInputError("data.tokenizer is required (a SentencePiece .model or vocab.txt) unless "
                             "model.init_from is a checkpoint or HF directory that carries one")

    def setup(self, stage: str) -> None:
        # The training order's seed, from the run's (seed_everything); saved with the loader's position. Drawn
        # here, before a Trainer restores a checkpoint's RNG state, so a resumed run draws what an uninterrupted
        # one does after it.
        if self._order_seed is None:
            self._order_seed = int(torch.randint(2**31 - 1, ()))
        index = label_index(self.label_names)
        for split, examples in self.examples.items():
            if split not in self.datasets:
                encoded = [encode_text(self.tokenizer, e, index, self.label_scheme) for e in examples]
                self.datasets[split] = TokenWindows(encoded, self.tokenizer, self.hparams.max_seq_length,
                                                    self.hparams.window_overlap)

    def _loader(self, split: str, train: bool) -> DataLoader:
        if split not in self.datasets:
            raise UserInputError(f"data.{split}_file is required for this command")
        dataset, batch_size = self.datasets[split], self.hparams.batch_size
        loader_args = dict(batch_size=batch_size, num_workers=self.hparams.num_workers, collate_fn=collate_windows,
                           persistent_workers=self.hparams.num_workers > 0)
        if not train:  # its own generator: making its iterator must not draw from the one dropout uses
            return DataLoader(dataset, generator=torch.Generator(), **loader_args)
        trainer = self.trainer
        world, rank = (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)
        # One seeded order per epoch, resumable mid-epoch, dealt to the ranks in length buckets.
        sampler = ResumableDistributedSampler(
            dataset, num_replicas=world, rank=rank, shuffle=True, drop_last=True, seed=self._order_seed,
            lengths=np.array([end - start for _, start, end in dataset.windows]), batch_size=batch_size,
            bucket_window=self.hparams.bucket_window)
        return ResumableDataLoader(dataset, sampler=sampler, **loader_args)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", train=False)

    @property
    def text_encoding(self) -> TextEncoding:
        """How this data encodes texts (the model learns it in ``setup`` and saves it for prediction)."""
        return TextEncoding(self.tokenizer_state, self.hparams.max_seq_length, self.hparams.window_overlap)

