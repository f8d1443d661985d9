"""Span prediction from a fine-tuned checkpoint: the code path behind scripts/predict.py.

The checkpoint carries everything needed (weights, model config, label names, tokenizer file,
max_seq_length), so nothing else is loaded. Texts are cut into the same overlapping windows as in
training, run in batches, merged back per token and decoded to character spans.
"""
from __future__ import annotations

import inspect
from typing import Iterable, Iterator

import torch

from datamodules.errors import UserInputError
from datamodules.span_decoding import WindowMerger, decode_entities
from datamodules.span_labels import TextExample
from datamodules.token_classification import TokenWindows, collate_windows, encode_text
from datamodules.tokenization import load_checkpoint_file, tokenizer_from_state
from lightning_modules.albert_token_classifier import AlbertTokenClassifierModule


SORT_CHUNK_BATCHES = 16  # reviews read ahead per batch, for length grouping (memory: a few MB of ids)


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise UserInputError(f"--device {device}: expected auto, cpu, cuda or cuda:N") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise UserInputError(f"--device {device}: no CUDA GPU is available here (use --device cpu or auto)")
    return resolved


class SpanPredictor:
    def __init__(self, checkpoint_path: str, device: str = "auto"):
        checkpoint = load_checkpoint_file(checkpoint_path)
        data_state = checkpoint.get("TokenClassificationDataModule")
        if not data_state or "label_names" not in data_state:
            raise UserInputError(f"--model {checkpoint_path}: not a fine-tuned checkpoint of scripts/finetune.py")
        self.label_names = data_state["label_names"]
        self.max_seq_length = data_state["max_seq_length"]
        self.window_overlap = data_state["window_overlap"]
        self.tokenizer = tokenizer_from_state(data_state["tokenizer"])
        accepted = inspect.signature(AlbertTokenClassifierModule.__init__).parameters
        hparams = {k: v for k, v in checkpoint["hyper_parameters"].items() if k in accepted}  # no CLI extras
        self.module = AlbertTokenClassifierModule(**{**hparams, "init_from": None})
        self.module.load_state_dict(checkpoint["state_dict"])
        self.device = resolve_device(device)
        self.module.to(self.device).eval()
        self._label_index = {name: i for i, name in enumerate(self.label_names)}

    @torch.inference_mode()
    def predict(self, texts: list[str], batch_size: int = 32) -> list[list[dict]]:
        """Entities per text: ``{"text", "start", "end", "type", "score"}``, character offsets into the text."""
        encoded = [encode_text(self.tokenizer, TextExample(t), self._label_index) for t in texts]
        windows = TokenWindows(encoded, self.tokenizer, self.max_seq_length, self.window_overlap)
        mergers = [WindowMerger(len(e.ids), len(self.label_names)) for e in encoded]
        # Windows of similar length together: less padding per batch.
        order = sorted(range(len(windows)), key=lambda i: windows.windows[i][2] - windows.windows[i][1])
        for first in range(0, len(order), batch_size):
            batch = collate_windows([windows[i] for i in order[first:first + batch_size]])
            probs = self.module.predict_step({k: v.to(self.device) for k, v in batch.items()}).cpu().numpy()
            for row, (text_index, start) in enumerate(zip(batch["text_index"].tolist(), batch["window_start"].tolist())):
                n = int(batch["attention_mask"][row].sum()) - 2  # without [CLS] and [SEP]
                mergers[text_index].add(start, probs[row, 1:1 + n])
        return [decode_entities(t, e.offsets, m.probs, self.label_names) for t, e, m in zip(texts, encoded, mergers)]

    def predict_stream(self, texts: Iterable[str], batch_size: int = 32) -> Iterator[tuple[str, list[dict]]]:
        """(text, entities) for each text, in input order, reading ``texts`` lazily in chunks.

        A chunk holds ``SORT_CHUNK_BATCHES`` batches, so ``predict`` can group windows of similar length
        across them: batches of 32 random reviews are padded to about twice their real tokens.
        """
        chunk: list[str] = []
        for text in texts:
            chunk.append(text)
            if len(chunk) == batch_size * SORT_CHUNK_BATCHES:
                yield from zip(chunk, self.predict(chunk, batch_size))
                chunk = []
        if chunk:
            yield from zip(chunk, self.predict(chunk, batch_size))
