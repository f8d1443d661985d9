"""Exact-span precision/recall/F1 of predictions in predict.py's JSONL against a labelled file.

One scorer for every tagger, ours or another library's: each writes predict.py's format, one JSON
object per text, ``{"text": ..., "dishes": [{"text", "start", "end", ...}]}`` (or ``"entities"`` with a
``"type"`` each, for taggers of several types), in the order of the labelled file's texts (read by
``read_examples``: a .bio file's tokens joined by single spaces, as fine-tuning sees them). A predicted
span counts when its start, end and type equal a gold span's (seqeval's entity-level rule, as
``finetune.py test`` counts: tests/test_finetune_cli.py checks the two agree). Predictions without
types are compared with the gold spans of every type.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from datamodules.common.errors import UserInputError
from datamodules.tagging.span_labels import TextExample


@dataclass(frozen=True)
class SpanScores:
    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        return self.true_positives / max(1, self.true_positives + self.false_positives)

    @property
    def recall(self) -> float:
        return self.true_positives / max(1, self.true_positives + self.false_negatives)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1, "true_positives":
                self.true_positives, "false_positives": self.false_positives, "false_negatives": self.false_negatives}


def read_predictions(path: str) -> list[tuple[str, set[tuple[int, int, str | None]]]]:
    """(text, {(start, end, type or None)}) per line of a predict.py-format JSONL file."""
    rows = []
    try:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                try:
                    record = json.loads(line)
                    typed = "entities" in record
                    spans = {(int(s["start"]), int(s["end"]), s["type"] if typed else None)
                             for s in record["entities" if typed else "dishes"]}
                    rows.append((record["text"], spans))
                except (ValueError, KeyError, TypeError) as e:
                    raise UserInputError(f"{path}:{number}: expected predict.py's JSON object "
                                         f"{{\"text\", \"dishes\": [{{\"start\", \"end\"}}]}}, got {line[:80]!r} ({e})")
    except OSError as e:
        raise UserInputError(f"--predictions {path}: {e.strerror}")
    return rows


def score_predictions(gold: list[TextExample], predictions: list[tuple[str, set]], source: str) -> SpanScores:
    """Counts over texts paired in order; a text that differs from its gold text is an error naming its row."""
    if len(predictions) != len(gold):
        raise UserInputError(f"{source}: {len(predictions)} predicted texts for {len(gold)} labelled texts")
    tp = fp = fn = 0
    for row, (example, (text, predicted)) in enumerate(zip(gold, predictions), 1):
        if text != example.text:
            raise UserInputError(f"{source}:{row}: the text is not the labelled text of {example.source} "
                                 f"({text[:40]!r} vs {example.text[:40]!r})")
        typed = any(kind is not None for _, _, kind in predicted)
        expected = {(s.start, s.end, s.type if typed else None) for s in example.spans}
        tp, fp, fn = tp + len(predicted & expected), fp + len(predicted - expected), fn + len(expected - predicted)
    return SpanScores(tp, fp, fn)
