"""Rule-based sentence splitting for reviews, which come one per line or per cell, not one sentence per line.

ALBERT learns sentence order, so a review must become a list of sentences. A boundary is
``.`` ``!`` ``?`` or ``…`` (any run, closing quotes/brackets included) or an emoticon, followed by
whitespace and then a capital letter, a digit or an opening quote/bracket. Not boundaries:
abbreviations from a short list ("Mr.", "St.") or dotted ("e.g.", "U.S.A."), single initials
("J. Smith"), decimals ("$4.50", no space), a lower-case continuation ("wait... what"). Reviews often lose the
space, so an ellipsis glued to a capital ("staff..Amazing") and a word glued to a capitalised word
("craving.This") are boundaries too. Line breaks always are.
No model and no dependency: the output only has to be good enough for sentence-order pairs.
"""
from __future__ import annotations

import re

# Lower-cased, without the final dot. Only words that rarely end a sentence: "etc." and "a.m." often do.
ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st jr sr mt ft ave blvd rd hwy vs approx dept est cf "
    "jan feb mar apr jun jul aug sep sept oct nov dec".split()
)
_OPENERS = "\"'“‘([«"
_EMOTICON = r"(?<!\S)(?:[:;=8][-^']?[()\[\]DPpOo/\\|*3]+|<3+|\^_*\^)"
# A terminator that is followed by whitespace; whether it ends a sentence is decided in code.
_TERMINATOR = re.compile(
    r"(?:[.!?\u2026]+[\"'”’)\]»]*|" + _EMOTICON + r")(?=\s)"
    r"|(?:\.{2,}|\u2026)(?=[A-Z])"  # "staff..Amazing"
    r"|(?<=[a-z]{2})[.!?]+(?=[A-Z][a-z])"  # "craving.This" (a missing space), but not "Mr.Smith" or "U.S.Army"
)
_DOTTED = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")  # "e.g", "i.e", "U.S.A" (the final dot is the terminator)
_SPACES = re.compile(r"\s*")


def split_sentences(text: str) -> list[str]:
    """The sentences of one line of text, stripped; no empty ones."""
    sentences, start = [], 0
    for m in _TERMINATOR.finditer(text):
        end = m.end()
        nxt = _SPACES.match(text, end).end()
        if nxt == len(text) or not _starts_sentence(text[nxt]) or _is_abbreviation(text, m):
            continue
        sentences.append(text[start:end].strip())
        start = nxt
    sentences.append(text[start:].strip())
    return [s for s in sentences if s]


def split_review(text: str) -> list[str]:
    """The sentences of a review that may span several lines (a CSV cell, a JSON string)."""
    return [s for line in text.splitlines() for s in split_sentences(line)]


def _starts_sentence(char: str) -> bool:
    return char.isupper() or char.isdigit() or char in _OPENERS


def _is_abbreviation(text: str, m: re.Match) -> bool:
    """A single ``.`` ending a listed abbreviation or an initial ("J.", but "my wife and I." ends a sentence)."""
    if m.group() != ".":
        return False
    begin = m.start()
    while begin > 0 and not text[begin - 1].isspace():  # walk back over the word: no copy of the text
        begin -= 1
    word = text[begin:m.start()].lstrip(_OPENERS)
    if word.lower() in ABBREVIATIONS or _DOTTED.fullmatch(word):
        return True
    return len(word) == 1 and word.isupper() and word != "I"
