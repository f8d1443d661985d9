"""Entity-level precision/recall/F1 on whole texts, measured on the spans prediction would return.

Window probabilities are gathered (across ranks too), merged per text and decoded by
``TextDecoder``, the code path of scripts/predict.py; the character spans found are compared
with the gold character spans of each text (exact start, end and type, as seqeval on entities).
So an entity in the overlap of two windows counts once, and a span cut differently from the gold
one counts as an error. Gold spans are used as read (the shared data's have no outer punctuation,
so decoding's trimming costs nothing there).
"""
from __future__ import annotations

import torch
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from datamodules.tagging.datamodule import EncodedText
from datamodules.tagging.span_decoding import TextDecoder


class SpanF1(Metric):
    """Counts true/false positives and false negatives per entity type over the texts whose every token was seen."""

    full_state_update = False

    def __init__(self, label_names: list[str], label_scheme: str = "all"):
        super().__init__()
        self.label_names, self.label_scheme = list(label_names), label_scheme
        self.types = sorted({name[2:] for name in label_names if name != "O"})
        # One entry per window: where it lies, and its real tokens' probabilities (rows of all windows, in order).
        for state in ("text_index", "window_start", "window_length", "token_probs"):
            self.add_state(state, default=[], dist_reduce_fx="cat")

    def update(self, probs: torch.Tensor, attention_mask: torch.Tensor, text_index: torch.Tensor,
               window_start: torch.Tensor) -> None:
        """``probs``: [windows, positions, labels] of padded [CLS] tokens [SEP] batches."""
        lengths = attention_mask.sum(1) - 2
        positions = torch.arange(probs.size(1), device=probs.device)
        inside = (positions >= 1) & (positions <= lengths[:, None])
        self.token_probs.append(probs[inside].float())
        self.text_index.append(text_index)
        self.window_start.append(window_start)
        self.window_length.append(lengths)

    @staticmethod
    def _prf(tp, fp, fn) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        precision = tp / (tp + fp).clamp(min=1)
        recall = tp / (tp + fn).clamp(min=1)
        f1 = 2 * precision * recall / (precision + recall).clamp(min=1e-12)
        return precision, recall, f1

    def _counts(self, texts: list[EncodedText]) -> torch.Tensor:
        """[tp, fp, fn] x types."""
        counts = torch.zeros(3, len(self.types), dtype=torch.long)
        if len(self.text_index) == 0:
            return counts
        decoder = TextDecoder([t.example.text for t in texts], [t.offsets for t in texts], self.label_names,
                              self.label_scheme)
        probs = dim_zero_cat(self.token_probs).cpu().numpy()
        text_indices = dim_zero_cat(self.text_index).tolist()
        row = 0
        for text_index, start, n in zip(text_indices, dim_zero_cat(self.window_start).tolist(),
                                        dim_zero_cat(self.window_length).tolist()):
            decoder.add(text_index, start, probs[row:row + n])
            row += n
        index = {t: i for i, t in enumerate(self.types)}
        for i in sorted(i for i in set(text_indices) if decoder.covered(i)):
            predicted = {(e["start"], e["end"], e["type"]) for e in decoder.entities(i)}
            gold = {(s.start, s.end, s.type) for s in texts[i].example.spans}
            for kind, spans in enumerate((predicted & gold, predicted - gold, gold - predicted)):  # tp, fp, fn
                for span in spans:
                    counts[kind, index[span[2]]] += 1
        return counts

    def compute(self, texts: list[EncodedText]) -> dict[str, torch.Tensor]:
        """``texts``: the evaluated dataset's texts, indexed as the windows' ``text_index``."""
        tp, fp, fn = self._counts(texts).float()
        p, r, f1 = self._prf(tp.sum(), fp.sum(), fn.sum())
        result = {"precision": p, "recall": r, "f1": f1}
        if len(self.types) > 1:
            _, _, per_type = self._prf(tp, fp, fn)
            result.update({f"f1_{t}": per_type[i] for i, t in enumerate(self.types)})
        return result
