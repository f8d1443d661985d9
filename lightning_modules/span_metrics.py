"""Entity-level precision/recall/F1 (exact span and type match, as seqeval), reduced across ranks."""
from __future__ import annotations

import torch
from torchmetrics import Metric

from datamodules.span_decoding import bio_token_spans
from datamodules.token_classification import IGNORE_INDEX


class SpanF1(Metric):
    """Counts true/false positives and false negatives per entity type over labelled tokens."""

    full_state_update = False

    def __init__(self, label_names: list[str]):
        super().__init__()
        self.label_names = list(label_names)
        self.types = sorted({name[2:] for name in label_names if name != "O"})
        for state in ("tp", "fp", "fn"):
            self.add_state(state, default=torch.zeros(len(self.types), dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        index = {t: i for i, t in enumerate(self.types)}
        counts = torch.zeros(3, len(self.types), dtype=torch.long)
        for p_row, t_row in zip(preds.cpu(), target.cpu()):
            keep = t_row != IGNORE_INDEX
            predicted = set(bio_token_spans(p_row[keep].tolist(), self.label_names))
            gold = set(bio_token_spans(t_row[keep].tolist(), self.label_names))
            for span in predicted & gold:
                counts[0, index[span[2]]] += 1
            for span in predicted - gold:
                counts[1, index[span[2]]] += 1
            for span in gold - predicted:
                counts[2, index[span[2]]] += 1
        self.tp += counts[0].to(self.tp.device)
        self.fp += counts[1].to(self.tp.device)
        self.fn += counts[2].to(self.tp.device)

    @staticmethod
    def _prf(tp, fp, fn) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        precision = tp / (tp + fp).clamp(min=1)
        recall = tp / (tp + fn).clamp(min=1)
        f1 = 2 * precision * recall / (precision + recall).clamp(min=1e-12)
        return precision, recall, f1

    def compute(self) -> dict[str, torch.Tensor]:
        tp, fp, fn = (x.float() for x in (self.tp, self.fp, self.fn))
        p, r, f1 = self._prf(tp.sum(), fp.sum(), fn.sum())
        result = {"precision": p, "recall": r, "f1": f1}
        if len(self.types) > 1:
            _, _, per_type = self._prf(tp, fp, fn)
            result.update({f"f1_{t}": per_type[i] for i, t in enumerate(self.types)})
        return result
