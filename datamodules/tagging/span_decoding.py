"""Token label probabilities -> character spans, the one decoder of evaluation and prediction.

Steps (``TextDecoder``): windows are merged per token (``WindowMerger``); token log-probabilities become word scores
(datamodules/tagging/words.py); a Viterbi search over allowed BIO transitions picks the best valid label
sequence of words; label runs become character spans, trimmed of outer punctuation.

Word scores, by ``label_scheme`` (how the model was trained):
- ``first``: the first sub-token's log-probabilities (the only ones trained).
- ``all``: for each word label, the log-probability of the sub-token sequence it stands for (B-x = B-x
  then I-x..., I-x = I-x..., O = O...), summed over the word's sub-tokens and renormalised over labels.
  The Viterbi over words is then exactly the token-level Viterbi restricted to paths that keep words whole.
Either way a word is entirely inside or outside an entity, and no sequence starts or continues an
entity with I- that is not preceded by B-/I- of the same type.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np

from datamodules.tagging.bio import label_index, tag_runs
from datamodules.tagging.words import NO_WORD, is_first_subtoken, word_ids

_MIN_PROB = 1e-12  # log(0) guard: merged windows can hold exact zeros
_OPENING, _CLOSING = "([{", ")]}"


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


@dataclass(frozen=True)
class BioTransitions:
    """Which label may start a sequence and which may follow which (bool arrays over label ids)."""

    start: np.ndarray  # [labels]
    follow: np.ndarray  # [previous, next]
    continuation: np.ndarray  # [labels]: the label the later sub-tokens of a word carry (B-x, I-x -> I-x; O -> O)

    @classmethod
    def for_labels(cls, label_names: list[str]) -> "BioTransitions":
        tags = [name.partition("-") for name in label_names]
        index = label_index(label_names)
        is_inside = np.array([tag == "I" for tag, _, _ in tags])
        kinds = np.array([kind for _, _, kind in tags], dtype=object)
        same_entity = (kinds[:, None] == kinds[None, :]) & np.array([tag != "O" for tag, _, _ in tags])[:, None]
        follow = ~is_inside[None, :] | same_entity  # I-x only after B-x or I-x
        continuation = np.array([index.get(f"I-{kind}", i) if tag != "O" else i
                                 for i, (tag, _, kind) in enumerate(tags)])
        return cls(~is_inside, follow, continuation)


def viterbi(scores: np.ndarray, transitions: BioTransitions) -> np.ndarray:
    """The label sequence with the highest total score among those the transitions allow ([n, labels] -> [n])."""
    forbidden_start = np.where(transitions.start, 0.0, -np.inf)
    forbidden_step = np.where(transitions.follow, 0.0, -np.inf)
    best = scores[0] + forbidden_start
    back = np.zeros(scores.shape, dtype=np.int64)
    for t in range(1, len(scores)):
        candidates = best[:, None] + forbidden_step  # [previous, next]
        back[t] = candidates.argmax(0)
        best = candidates.max(0) + scores[t]
    path = np.empty(len(scores), dtype=np.int64)
    path[-1] = best.argmax()
    for t in range(len(scores) - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def word_log_probs(log_probs: np.ndarray, first: np.ndarray, transitions: BioTransitions,
                   label_scheme: str) -> np.ndarray:
    """[words, labels] log-probabilities from [tokens, labels] of tokens that belong to words, in order."""
    if label_scheme == "first":
        return log_probs[first]
    # Later sub-tokens score the word's label by their continuation label (B-x by I-x).
    per_token = np.where(first[:, None], log_probs, log_probs[:, transitions.continuation])
    summed = np.add.reduceat(per_token, np.flatnonzero(first), axis=0)
    top = summed.max(-1, keepdims=True)
    return summed - top - np.log(np.exp(summed - top).sum(-1, keepdims=True))


def _is_trimmed(c: str) -> bool:
    return c.isspace() or unicodedata.category(c).startswith("P")


def trim_span(text: str, start: int, end: int) -> tuple[int, int]:
    """``[start, end)`` without outer whitespace and punctuation (Unicode category P*). A closing bracket
    stays when its opening bracket is in the span ("pad thai (with shrimp)"); inner punctuation stays
    ("mac & cheese", "General Tso's chicken"). Empty when nothing else is left."""
    while start < end and _is_trimmed(text[start]):
        start += 1
    while start < end and _is_trimmed(text[end - 1]):
        last = text[end - 1]
        if last in _CLOSING and _OPENING[_CLOSING.index(last)] in text[start:end - 1]:
            break
        end -= 1
    return start, end


def decode_entities(text: str, offsets: list[tuple[int, int]], probs: np.ndarray, label_names: list[str],
                    label_scheme: str = "all") -> list[dict]:
    """Entities as ``{"text", "start", "end", "type", "score"}`` with ``text[start:end] == entity text``.

    ``probs``: [tokens, labels] (merged windows). ``score``: the mean probability of the decoded label
    over the entity's words. Two entities of one type with only spaces between them are one entity:
    a model that writes B where I belongs ("tom" B, "yum soup" B-I) would otherwise split a
    multi-word dish, the most common error seen.
    """
    words = word_ids(text, offsets)
    in_word = words != NO_WORD
    if not in_word.any():
        return []
    first = is_first_subtoken(words)[in_word]
    last = np.append(first[1:], True)  # the last sub-token of each word
    word_offsets = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)[in_word]
    word_start, word_end = word_offsets[first, 0].tolist(), word_offsets[last, 1].tolist()
    transitions = BioTransitions.for_labels(label_names)
    log_probs = np.log(np.maximum(probs[in_word].astype(np.float64), _MIN_PROB))
    scores = word_log_probs(log_probs, first, transitions, label_scheme)
    labels = viterbi(scores, transitions)
    confidence = np.exp(scores[np.arange(len(labels)), labels])
    entities: list[dict] = []
    for first_word, end_word, kind in tag_runs([label_names[i] for i in labels.tolist()]):
        start, end = trim_span(text, word_start[first_word], word_end[end_word - 1])
        if start == end:
            continue  # punctuation only
        previous = entities[-1] if entities else None
        if previous is not None and previous["type"] == kind and not text[previous["end"]:start].strip():
            previous.update(end=end, text=text[previous["start"]:end], words=(previous["words"][0], end_word))
        else:
            entities.append({"text": text[start:end], "start": start, "end": end, "type": kind,
                             "words": (first_word, end_word)})
    for entity in entities:
        first_word, end_word = entity.pop("words")
        entity["score"] = round(float(confidence[first_word:end_word].mean()), 4)
    return entities


class TextDecoder:
    """Window probabilities of several texts, merged per text and decoded to entities; prediction
    (lightning_modules/inference/span_predictor.py) and evaluation (lightning_modules/span_metrics.py) both use it,
    so the scores measured are those of the spans users get."""

    def __init__(self, texts: list[str], offsets: list[list[tuple[int, int]]], label_names: list[str],
                 label_scheme: str = "all"):
        self.texts, self.offsets = texts, offsets
        self.label_names, self.label_scheme = label_names, label_scheme
        self.mergers = [WindowMerger(len(o), len(label_names)) for o in offsets]

    def add(self, text_index: int, start: int, window_probs: np.ndarray) -> None:
        """Probabilities of one window's tokens (no [CLS]/[SEP]) starting at token ``start`` of a text."""
        self.mergers[text_index].add(start, window_probs)

    def covered(self, text_index: int) -> bool:
        """Whether every token of the text has come in some window."""
        return bool((self.mergers[text_index].margin >= 0).all())

    def entities(self, text_index: int) -> list[dict]:
        return decode_entities(self.texts[text_index], self.offsets[text_index], self.mergers[text_index].probs,
                               self.label_names, self.label_scheme)
