"""Corpus files in four formats -> documents (lists of sentence strings), read as a stream.

- ``sentences``: google-research/ALBERT's format, one sentence per line, a blank line between
  documents (a file boundary ends one too). Read exactly as before; nothing is dropped.
- ``lines``: one review (document) per line.
- ``csv``: one review per row, in the text column (header row first; quoted newlines allowed).
- ``jsonl``: one JSON object per line, the review in the text field (``null`` counts as empty).

Reviews are split into sentences by ``sentence_split.split_review``. An empty review is skipped and an
exact duplicate (after whitespace is collapsed) dropped, both counted: review dumps repeat rows (one
row per dish, re-scraped pages), and a repeated document would be learned twice.

Each input glob may carry its own format as a ``FORMAT:`` prefix (``lines:yelp/*.txt``), so one run
mixes formats; unprefixed globs take the run's default. A UTF-8 BOM at a file's start is dropped.
Bad input is a UserInputError naming the file, line or row, and field.
"""
from __future__ import annotations

import codecs
import csv
import glob
import json
import os
import re
from dataclasses import dataclass
from typing import Iterable, Iterator, Union

from datamodules.common.errors import UserInputError
from datamodules.common.files import expand_input_files
from datamodules.text.digest_set import DigestSet
from datamodules.text.sentence_split import split_review

FORMATS = ("sentences", "lines", "csv", "jsonl")
DEFAULT_TEXT_COLUMN = "review"  # the column of this project's CSVs (predict.py, the dish data)
_JSON_TYPES = {bool: "a boolean", int: "a number", float: "a number", list: "an array", dict: "an object",
               str: "a string", type(None): "null"}


@dataclass(frozen=True)
class CorpusFile:
    path: str
    format: str


@dataclass
class CorpusCounts:
    documents: int = 0
    sentences: int = 0
    duplicates: int = 0  # documents dropped as exact repeats of an earlier one
    empty: int = 0  # lines, rows or fields with no text

    def line(self) -> str:
        return (f"{self.documents} documents, {self.sentences} sentences ({self.duplicates} duplicate documents "
                f"dropped, {self.empty} empty skipped)")


def expand_corpus_files(patterns: str | Iterable[str], default_format: str, what: str) -> list[CorpusFile]:
    """Comma-separated and/or listed globs, each optionally ``FORMAT:GLOB``; a file named twice is read once."""
    if default_format not in FORMATS:
        raise UserInputError(f"input format must be one of {', '.join(FORMATS)}, got {default_format!r}")
    if isinstance(patterns, str):
        patterns = [patterns]
    formats: dict[str, str] = {}  # path -> format, in the order given
    for pattern in (p.strip() for item in patterns for p in str(item).split(",")):
        if not pattern:
            continue
        prefix, colon, rest = pattern.partition(":")
        if colon and _unknown_format(prefix, pattern):
            raise UserInputError(f"{what}: unknown format {prefix!r} in {pattern!r}: expected one of "
                                 f"{', '.join(FORMATS)}")
        fmt, pattern = (prefix, rest) if colon and prefix in FORMATS else (default_format, pattern)
        for path in expand_input_files(pattern, what):
            if formats.setdefault(path, fmt) != fmt:
                raise UserInputError(f"{what}: {path} is given both as {formats[path]} and as {fmt}")
    if not formats:
        raise UserInputError(f"no {what} given")
    return [CorpusFile(path, fmt) for path, fmt in formats.items()]


def _unknown_format(prefix: str, pattern: str) -> bool:
    """``prefix:`` meant as a format that is none of ours: a word (not a drive letter ``C:`` or a path
    ``./a:b``) that is no format, and the whole pattern names no file (``notes:a.txt`` may be one)."""
    return (prefix not in FORMATS and re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]+", prefix) is not None
            and not glob.glob(os.path.expanduser(pattern)))


UnsplitDocument = Union[str, list[str]]  # a review's text, or the lines of a ``sentences`` document


def split_document(document: UnsplitDocument) -> list[str]:
    """Sentences of a document from ``Corpus.unsplit_documents``."""
    return split_review(document) if isinstance(document, str) else document


class Corpus:
    """Iterate ``documents()`` (or ``unsplit_documents()``) once; ``counts`` is complete when it ends."""

    def __init__(self, files: list[CorpusFile], text_column: str = DEFAULT_TEXT_COLUMN):
        self.files = files
        self.text_column = text_column
        self.counts = CorpusCounts()

    def unsplit_documents(self) -> Iterator[tuple[int, UnsplitDocument]]:
        """(file index, document): a review stays one string until ``split_document``, so a reader that
        uses only some documents (one task of many) does not pay for splitting the others."""
        seen = DigestSet()  # digests, not the texts: about 10 bytes per document
        for file_index, f in enumerate(self.files):
            if f.format == "sentences":
                for document in _sentence_documents(f.path):
                    self.counts.documents += 1
                    yield file_index, document
                continue
            for text in _review_texts(f, self.text_column):
                key = " ".join(text.split())
                if not key:
                    self.counts.empty += 1
                    continue
                if not seen.add(key.encode("utf-8")):
                    self.counts.duplicates += 1
                    continue
                self.counts.documents += 1
                yield file_index, text

    def documents(self) -> Iterator[list[str]]:
        for _, unsplit in self.unsplit_documents():
            document = split_document(unsplit)
            self.counts.sentences += len(document)
            yield document

    def sentences(self) -> Iterator[str]:
        """Every sentence, documents one after another (what a vocabulary is trained on)."""
        for document in self.documents():
            yield from document


def _text_lines(path: str) -> Iterator[tuple[int, str]]:
    """(line number, line with its ending); decoded line by line so a bad byte is named exactly."""
    offset = 0
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw, offset = raw[len(codecs.BOM_UTF8):], len(codecs.BOM_UTF8)
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise UserInputError(f"{path}: line {number}: not UTF-8 text (byte {offset + e.start} of the file)") \
                    from None
            offset += len(raw)
            yield number, line


def _universal_lines(line: str) -> list[str]:
    """Split at \\n, \\r\\n and a lone \\r, as text-mode ``open`` did when this reader read whole files."""
    parts = line.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return parts[:-1] if len(parts) > 1 and parts[-1] == "" else parts


def _sentence_documents(path: str) -> Iterator[list[str]]:
    document: list[str] = []
    for _, raw in _text_lines(path):
        for line in _universal_lines(raw):
            if line.strip():
                document.append(line)
            elif document:
                yield document
                document = []
    if document:
        yield document


def _review_texts(f: CorpusFile, column: str) -> Iterator[str]:
    """One string per review; "" for an empty line or row, so that it is counted."""
    if f.format == "lines":
        for _, raw in _text_lines(f.path):
            yield from _universal_lines(raw)
    elif f.format == "csv":
        yield from _csv_texts(f.path, column)
    else:
        yield from _jsonl_texts(f.path, column)


def _csv_texts(path: str, column: str) -> Iterator[str]:
    # A review longer than the csv module's default 128 KiB field limit is still one review.
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))
    reader = csv.reader(line for _, line in _text_lines(path))
    try:
        header = next(reader, None)
        if header is None:
            raise UserInputError(f"{path}: empty CSV file (expected a header row with a {column!r} column)")
        if column not in header:
            raise UserInputError(f"{path}: no {column!r} column (found: {', '.join(map(repr, header))})")
        index = header.index(column)
        for row_number, row in enumerate(reader, 1):
            if not row:
                yield ""
            elif index >= len(row):
                raise UserInputError(f"{path}: row {row_number} (line {reader.line_num}) has {len(row)} field(s), "
                                     f"no {column!r} value (the header has {len(header)})")
            else:
                yield row[index]
    except csv.Error as e:
        raise UserInputError(f"{path}: line {reader.line_num}: not valid CSV ({e})") from None


def _jsonl_texts(path: str, field: str) -> Iterator[str]:
    for number, line in _text_lines(path):
        if not line.strip():
            yield ""
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise UserInputError(f"{path}: line {number}: invalid JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(record, dict):
            raise UserInputError(f"{path}: line {number}: expected a JSON object with a {field!r} field, "
                                 f"got {_JSON_TYPES[type(record)]}")
        if field not in record:
            raise UserInputError(f"{path}: line {number}: no {field!r} field (found: {', '.join(map(repr, record))})")
        value = record[field]
        if value is not None and not isinstance(value, str):
            raise UserInputError(f"{path}: line {number}: field {field!r} is {_JSON_TYPES[type(value)]}, "
                                 "expected a string")
        value = value or ""
        if not value.isascii():
            try:  # JSON can escape a lone surrogate ("\ud800"), which no tokenizer can encode
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise UserInputError(f"{path}: line {number}: field {field!r} holds a lone surrogate escape, "
                                     "not valid Unicode text") from None
        yield value
