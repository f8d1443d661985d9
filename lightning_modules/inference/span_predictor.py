"""Span prediction with a fine-tuned tagger: the code path behind scripts/predict.py.

The tagger (a .ckpt, or a HF / ONNX directory: lightning_modules/inference/tagger_backends.py) carries
everything needed (weights, label names, tokenizer, window length), so nothing else is loaded. Texts
are cut into the same overlapping windows as in training, run in batches, merged back per token and
decoded to character spans, whichever backend runs the model.
"""
from __future__ import annotations

from typing import Iterable, Iterator

from datamodules.tagging.bio import label_index
from datamodules.tagging.datamodule import TokenWindows, collate_windows, encode_text
from datamodules.tagging.span_decoding import TextDecoder
from datamodules.tagging.span_labels import TextExample
from lightning_modules.inference.tagger_backends import load_tagger

SORT_CHUNK_BATCHES = 16  # reviews read ahead per batch, for length grouping (memory: a few MB of ids)
MAX_PADDING = 0.25  # a batch takes no window that would make padding more than this share of its tokens


def padded_batches(lengths: list[int], batch_size: int) -> list[range]:
    """Runs of ascending ``lengths`` run as one batch each: at most ``batch_size`` long, and cut early where
    the next length would pad the batch beyond ``MAX_PADDING`` (computing on padding costs more than a
    smaller batch does: measured on few random reviews, as a server batches them)."""
    batches, first, tokens = [], 0, 0
    for i, n in enumerate(lengths):
        size = i - first + 1
        if size > batch_size or n * size > (1 + MAX_PADDING) * (tokens + n):
            batches.append(range(first, i))
            first, tokens = i, 0
        tokens += n
    return batches + [range(first, len(lengths))] if lengths else batches


class SpanPredictor:
    def __init__(self, model_path: str, device: str = "auto", backend: str | None = None):
        """``model_path``: a fine-tuned .ckpt or a directory of export_hf.py / export_onnx.py;
        ``backend``: torch or onnx (default: what the model holds, see tagger_backends)."""
        self.tagger = load_tagger(model_path, backend, device)
        self.label_names = self.tagger.label_names
        self.tokenizer = self.tagger.tokenizer
        self._label_index = label_index(self.label_names)

    def predict(self, texts: list[str], batch_size: int = 32) -> list[list[dict]]:
        """Entities per text: ``{"text", "start", "end", "type", "score"}``, character offsets into the text."""
        encoded = [encode_text(self.tokenizer, TextExample(t), self._label_index) for t in texts]
        windows = TokenWindows(encoded, self.tokenizer, self.tagger.max_seq_length, self.tagger.window_overlap)
        decoder = TextDecoder(texts, [e.offsets for e in encoded], self.label_names, self.tagger.label_scheme)
        # Windows of similar length together: less padding per batch.
        order = sorted(range(len(windows)), key=lambda i: windows.windows[i][2] - windows.windows[i][1])
        lengths = [windows.windows[i][2] - windows.windows[i][1] + 2 for i in order]  # with [CLS] and [SEP]
        for rows in padded_batches(lengths, batch_size):
            batch = collate_windows([windows[order[i]] for i in rows])
            probs = self.tagger.probabilities(batch["input_ids"], batch["attention_mask"])
            starts = zip(batch["text_index"].tolist(), batch["window_start"].tolist())
            for row, (text_index, start) in enumerate(starts):
                n = int(batch["attention_mask"][row].sum()) - 2  # without [CLS] and [SEP]
                decoder.add(text_index, start, probs[row, 1:1 + n])
        return [decoder.entities(i) for i in range(len(texts))]

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


def dish_record(text: str, entities: list[dict]) -> dict:
    """What predict.py writes and serve.py answers per text: ``{"text", "dishes": [{"text", "start", "end",
    "score"}]}``, plus ``"entities"`` (with ``"type"``) for a tagger trained on other types too."""
    dishes = [{k: e[k] for k in ("text", "start", "end", "score")} for e in entities if e["type"].lower() == "dish"]
    record = {"text": text, "dishes": dishes}
    if any(e["type"].lower() != "dish" for e in entities):
        record["entities"] = entities
    return record
