"""Token label probabilities -> character spans: merge overlapping windows, decode BIO, snap to words."""
from __future__ import annotations

import re

import numpy as np

_WORD_CHAR = re.compile(r"\w")


def bio_token_spans(label_ids, label_names: list[str]) -> list[tuple[int, int, str]]:
    """(first, last+1, type) token runs from BIO label ids; an I- that continues nothing starts an entity."""
    spans, current = [], None
    for i, label in enumerate(label_ids):
        tag, _, kind = label_names[label].partition("-")
        if tag == "I" and current is not None and current[2] == kind:
            current[1] = i + 1
            continue
        if current is not None:
            spans.append(tuple(current))
            current = None
        if tag in ("B", "I"):
            current = [i, i + 1, kind]
    if current is not None:
        spans.append(tuple(current))
    return spans


class WindowMerger:
    """Per-token probabilities of a text from overlapping windows: each token takes the window where it
    lies farthest from a window edge (most context on both sides)."""

    def __init__(self, n_tokens: int, n_labels: int):
        self.probs = np.zeros((n_tokens, n_labels), dtype=np.float32)
        self.margin = np.full(n_tokens, -1, dtype=np.int64)

    def add(self, start: int, window_probs: np.ndarray) -> None:
        n = len(window_probs)
        positions = np.arange(n)
        margin = np.minimum(positions, n - 1 - positions)
        better = margin > self.margin[start:start + n]
        self.probs[start:start + n][better] = window_probs[better]
        self.margin[start:start + n][better] = margin[better]


def decode_entities(text: str, offsets: list[tuple[int, int]], probs: np.ndarray, label_names: list[str],
                    snap_to_words: bool = True) -> list[dict]:
    """Entities as ``{"text", "start", "end", "type", "score"}`` with ``text[start:end] == entity text``.

    Whitespace-only tokens are skipped. With ``snap_to_words`` a span that starts or ends inside a
    word is widened to the whole word (a sub-word model can stop mid-word; the user wants words), and
    two spans of one type with only spaces between them are one entity: a model that writes B where
    I belongs ("tom" B, "yum soup" B-I) splits a multi-word dish, the most common error seen.
    """
    real = [i for i, (s, e) in enumerate(offsets) if e > s]
    if not real:
        return []
    labels = probs[real].argmax(-1)
    confidence = probs[real].max(-1)
    entities = []
    for first, last, kind in bio_token_spans(labels.tolist(), label_names):
        start, end = offsets[real[first]][0], offsets[real[last - 1]][1]
        if snap_to_words:
            while start > 0 and _WORD_CHAR.match(text[start - 1]) and _WORD_CHAR.match(text[start]):
                start -= 1
            while end < len(text) and _WORD_CHAR.match(text[end]) and _WORD_CHAR.match(text[end - 1]):
                end += 1
        previous = entities[-1] if entities else None
        touching = previous is not None and (start < previous["end"] or (
            snap_to_words and previous["type"] == kind and not text[previous["end"]:start].strip()))
        if touching:  # one entity: joined inside a word by snapping, or split by a stray B
            first_token = previous["first_token"]
            previous["end"] = max(end, previous["end"])
            previous["text"] = text[previous["start"]:previous["end"]]
            previous["score"] = round(float(confidence[first_token:last].mean()), 4)
            continue
        entities.append({"text": text[start:end], "start": start, "end": end, "type": kind,
                         "score": round(float(confidence[first:last].mean()), 4), "first_token": first})
    for entity in entities:
        del entity["first_token"]
    return entities
