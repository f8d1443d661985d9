"""Labelled text for span extraction: read CSV (``review,dish_name``) and CoNLL/BIO files into texts
with character spans, and turn spans into BIO labels.

Everything is anchored on character offsets of the original text, so tokenization never decides
what a span is: CSV dishes are located in their review (case-insensitive, at word boundaries, every
occurrence); BIO tokens are joined with single spaces and their labels become character spans.
Files are read as ``utf-8-sig``: a byte-order mark at the start is not text.
"""
from __future__ import annotations

import csv
import os
import re
import warnings
from dataclasses import dataclass, field

from datamodules.common.errors import UserInputError
from datamodules.tagging.bio import BIO_LABEL, tag_runs

CSV_ENTITY_TYPE = "Dish"


@dataclass(frozen=True)
class Span:
    start: int
    end: int  # exclusive
    type: str


@dataclass
class TextExample:
    text: str
    spans: list[Span] = field(default_factory=list)
    source: str = ""  # "file:line" of the example's first row, for messages


def find_occurrences(text: str, phrase: str) -> list[tuple[int, int]]:
    """Every case-insensitive occurrence of ``phrase`` in ``text`` that starts and ends at a word boundary."""
    pattern = re.compile(rf"(?<!\w){re.escape(phrase)}(?!\w)", re.IGNORECASE)
    return [(m.start(), m.end()) for m in pattern.finditer(text)]


def _drop_nested(spans: list[Span]) -> list[Span]:
    """Keep the longest of overlapping spans ("chicken" inside "chicken rice"), in text order."""
    kept: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.start, -(s.end - s.start))):
        if kept and span.start < kept[-1].end:
            continue
        kept.append(span)
    return kept


def read_csv_examples(path: str, entity_type: str = CSV_ENTITY_TYPE) -> list[TextExample]:
    """Seed-format CSV: header ``review,dish_name``; rows of one review merge into one example.

    An empty ``dish_name`` marks a review without dishes. Reviews that are empty are skipped, and
    reviews with a dish that cannot be found in them are skipped too (labelling the rest would
    teach the model that the dish is not one); both are reported in one warning each.
    """
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        if "review" not in columns or "dish_name" not in columns:
            raise UserInputError(f"{path}: expected CSV columns 'review' and 'dish_name', found {columns}")
        merged: dict[str, TextExample] = {}
        missing: dict[str, list[int]] = {}
        empty_rows: list[int] = []
        for row in reader:
            line = reader.line_num
            review, dish = (row.get("review") or ""), (row.get("dish_name") or "").strip()
            if not review.strip():
                empty_rows.append(line)
                continue
            example = merged.setdefault(review, TextExample(review, [], f"{path}:{line}"))
            if not dish:
                continue
            found = find_occurrences(review, dish)
            if not found:
                missing.setdefault(review, []).append(line)
            example.spans.extend(Span(s, e, entity_type) for s, e in found)
    if empty_rows:
        warnings.warn(f"{path}: skipped {len(empty_rows)} row(s) with an empty review (lines {_first(empty_rows)})")
    if missing:
        lines = sorted(n for rows in missing.values() for n in rows)
        warnings.warn(f"{path}: {len(lines)} dish name(s) not found in their review, so {len(missing)} review(s) "
                      f"were skipped (lines {_first(lines)})")
    examples = [e for review, e in merged.items() if review not in missing]
    for example in examples:
        example.spans = _drop_nested(example.spans)
    return examples


def _first(numbers: list[int], k: int = 5) -> str:
    shown = ", ".join(map(str, numbers[:k]))
    return shown + (", ..." if len(numbers) > k else "")


def read_bio_examples(path: str) -> list[TextExample]:
    """CoNLL two-column ``token<TAB>label`` with a blank line after each sentence; any label set.

    The text is the tokens joined by single spaces. An I- label that does not continue an entity of
    its type starts a new one (conlleval's reading).
    """
    examples: list[TextExample] = []
    tokens: list[tuple[str, str]] = []
    start_line = 1

    def flush() -> None:
        if tokens:
            examples.append(_bio_sentence(tokens, f"{path}:{start_line}"))
            tokens.clear()

    with open(path, encoding="utf-8-sig") as f:
        for number, raw in enumerate(f, 1):
            line = raw.rstrip("\n").rstrip("\r")
            if not line.strip():
                flush()
                start_line = number + 1
                continue
            parts = line.split("\t")
            if len(parts) != 2 or not parts[0] or not BIO_LABEL.match(parts[1]):
                raise UserInputError(f"{path}:{number}: expected 'token<TAB>label' with label O, B-TYPE or I-TYPE, "
                                     f"got {line[:60]!r}")
            tokens.append((parts[0], parts[1]))
    flush()
    return examples


def _bio_sentence(tokens: list[tuple[str, str]], source: str) -> TextExample:
    starts, offset = [], 0
    for token, _ in tokens:
        starts.append(offset)
        offset += len(token) + 1
    spans = [Span(starts[first], starts[end - 1] + len(tokens[end - 1][0]), kind)
             for first, end, kind in tag_runs([label for _, label in tokens])]
    return TextExample(" ".join(token for token, _ in tokens), spans, source)


def looks_like_bio(path: str) -> bool:
    """BIO by extension (.bio/.conll) or by content (first non-empty line is ``token<TAB>label``)."""
    if path.endswith((".bio", ".conll")):
        return True
    if path.endswith(".csv"):
        return False
    with open(path, encoding="utf-8-sig") as f:
        for line in f:
            if line.strip():
                parts = line.rstrip("\n").split("\t")
                return len(parts) == 2 and bool(BIO_LABEL.match(parts[1]))
    return False


def _read_file(path: str) -> list[TextExample]:
    if not os.path.isfile(path):
        raise UserInputError(f"{path} does not exist (expected a review,dish_name CSV or a token<TAB>label BIO file)")
    examples = read_bio_examples(path) if looks_like_bio(path) else read_csv_examples(path)
    if not examples:
        raise UserInputError(f"{path}: no examples (empty input)")
    return examples


def _lowered_label_map(label_map: dict[str, str]) -> dict[str, str]:
    """Keys matched case-insensitively (as ``entity_types``); the values are the new type names as written."""
    lowered: dict[str, str] = {}
    for old, new in label_map.items():
        if not isinstance(new, str) or not re.fullmatch(r"\S+", new):
            raise UserInputError(f"data.label_map: {old!r} maps to {new!r}, expected a type name without spaces")
        if lowered.setdefault(str(old).lower(), new) != new:
            raise UserInputError(f"data.label_map: {old!r} is given twice (keys ignore case) with different types")
    return lowered


def _select_types(examples: list[TextExample], label_map: dict[str, str], entity_types: list[str] | None) -> None:
    """Rename types by ``label_map`` (lowered keys), then keep only ``entity_types`` (any case) when given.

    Texts left without spans stay: they are the negatives.
    """
    wanted = {t.lower() for t in entity_types} if entity_types else None
    for example in examples:
        renamed = [Span(s.start, s.end, label_map.get(s.type.lower(), s.type)) for s in example.spans]
        example.spans = [s for s in renamed if wanted is None or s.type.lower() in wanted]


def read_examples(path: str, entity_types: list[str] | None = None,
                  label_map: dict[str, str] | None = None) -> list[TextExample]:
    """CSV or BIO, by extension or content; types renamed by ``label_map``, then only ``entity_types`` kept."""
    return read_corpus([path], entity_types, label_map)[path]


def read_corpus(paths: list[str], entity_types: list[str] | None = None,
                label_map: dict[str, str] | None = None) -> dict[str, list[TextExample]]:
    """The examples of each file (a file named twice is read once), read as ``read_examples``.

    A ``label_map`` key that is the type of no span in any of the files is an error: most likely a
    typo, which would otherwise silently drop or split the type it meant.
    """
    lowered = _lowered_label_map(label_map or {})
    by_file: dict[str, list[TextExample]] = {}
    found: set[str] = set()
    for path in paths:
        if path not in by_file:
            by_file[path] = _read_file(path)
            found |= {s.type for e in by_file[path] for s in e.spans}
    unknown = sorted(k for k in (label_map or {}) if str(k).lower() not in {t.lower() for t in found})
    if unknown:
        raise UserInputError(f"data.label_map: type(s) {unknown} occur in none of {', '.join(by_file)} "
                             f"(types there: {sorted(found)})")
    for examples in by_file.values():
        _select_types(examples, lowered, entity_types)
    return by_file
