"""BIO tags, in one place: the label set of a model, label ids, and tag sequences <-> entity runs.

Every reader, decoder, model and exporter takes its labels from here, so they agree on the id of
each label and on how a tag sequence reads (conlleval's reading: an I- that continues no entity of
its type starts one).
"""
from __future__ import annotations

import re
from typing import Sequence

BIO_LABEL = re.compile(r"^(O|[BI]-\S+)$")


def label_names_for(types: set[str]) -> list[str]:
    """``O`` then ``B-T``, ``I-T`` for each type in sorted order: the label ids of the model."""
    return ["O"] + [f"{tag}-{t}" for t in sorted(types) for tag in ("B", "I")]


def label_index(label_names: Sequence[str]) -> dict[str, int]:
    """Label name -> id."""
    return {name: i for i, name in enumerate(label_names)}


def label_config_fields(label_names: Sequence[str]) -> dict:
    """The fields a transformers config carries for a token classifier's labels."""
    return {"num_labels": len(label_names), "id2label": dict(enumerate(label_names)),
            "label2id": label_index(label_names)}


def tag_runs(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """(first, last + 1, type) for each entity in a sequence of BIO tags (``O``, ``B-T``, ``I-T``)."""
    runs, current = [], None
    for i, label in enumerate(tags):
        tag, _, kind = label.partition("-")
        if tag == "I" and current is not None and current[2] == kind:
            current[1] = i + 1
            continue
        if current is not None:
            runs.append(tuple(current))
            current = None
        if tag in ("B", "I"):
            current = [i, i + 1, kind]
    if current is not None:
        runs.append(tuple(current))
    return runs
