"""The decoder of evaluation and prediction: valid BIO only, whole words, trimmed spans."""
import itertools
import re

import numpy as np
import pytest

from datamodules.tagging.bio import tag_runs
from datamodules.tagging.span_decoding import BioTransitions, decode_entities, trim_span, viterbi
from datamodules.text.tokenization import load_tokenizer

LABELS = ["O", "B-Dish", "I-Dish"]
TWO_TYPES = ["O", "B-A", "I-A", "B-B", "I-B"]


def probs_of(*rows):
    """Rows of {label: probability}; the rest of each row spread over the other labels."""
    out = []
    for row in rows:
        p = np.array([row.get(name, 0.0) for name in LABELS], dtype=np.float32)
        p[p == 0] = (1 - p.sum()) / max(1, (p == 0).sum())
        out.append(p)
    return np.stack(out)


def is_valid_bio(labels, names):
    previous = "O"
    for label in labels:
        tag, _, kind = names[label].partition("-")
        if tag == "I" and previous[2:] != kind:
            return False
        previous = names[label]
    return True


def test_viterbi_is_the_best_valid_sequence():
    rng = np.random.default_rng(0)
    transitions = BioTransitions.for_labels(TWO_TYPES)
    for _ in range(30):
        scores = np.log(rng.dirichlet(np.ones(5) * 0.3, size=4))
        best = max((s for s in itertools.product(range(5), repeat=4) if is_valid_bio(s, TWO_TYPES)),
                   key=lambda s: scores[np.arange(4), s].sum())
        assert viterbi(scores, transitions).tolist() == list(best)


def test_an_invalid_tag_sequence_is_repaired():
    # argmax reads O I I I: an entity that starts with I. Viterbi makes it B I I.
    text = "we had xiao long bao"
    offsets = [(0, 2), (3, 6), (7, 11), (12, 16), (17, 20)]
    inside = {"I-Dish": 0.6, "O": 0.3, "B-Dish": 0.1}
    probs = probs_of({"O": 0.9}, {"O": 0.9}, inside, inside, inside)
    (entity,) = decode_entities(text, offsets, probs, LABELS)
    assert (entity["text"], entity["start"], entity["end"]) == ("xiao long bao", 7, 20)
    # B-A then I-B (I of another type): one valid reading, never an I-B entity continuing A.
    labels = viterbi(np.log(np.array([[.1, .8, .02, .05, .03], [.1, .05, .3, .05, .5]])),
                     BioTransitions.for_labels(TWO_TYPES))
    assert [TWO_TYPES[i] for i in labels] == ["B-A", "I-A"]


@pytest.mark.parametrize("label_scheme", ["all", "first"])
def test_a_dish_is_never_split_inside_a_word(label_scheme):
    text = "the steamboat was good"
    offsets = [(0, 3), (4, 9), (9, 13), (14, 17), (18, 22)]  # "steam" + "boat"
    # argmax tags "steam" alone; the word as a whole is a dish.
    probs = probs_of({"O": 0.9}, {"B-Dish": 0.7, "O": 0.3}, {"O": 0.55, "I-Dish": 0.45}, {"O": 0.9}, {"O": 0.9})
    (entity,) = decode_entities(text, offsets, probs, LABELS, label_scheme)
    assert (entity["text"], entity["start"], entity["end"]) == ("steamboat", 4, 13)


def test_random_probabilities_on_real_tokens_give_whole_words_and_trimmed_spans(sample_spm):
    spm = load_tokenizer(sample_spm)
    text = 'Gyōza, "char kway teow" (and) mac & cheese; General Tso\'s chicken... crème brûlée!'
    _, offsets = spm.encode_with_offsets(text)
    rng = np.random.default_rng(1)
    seen = 0
    for label_scheme in ("all", "first"):
        for _ in range(20):
            probs = rng.dirichlet(np.ones(3) * 0.5, size=len(offsets)).astype(np.float32)
            for e in decode_entities(text, offsets, probs, LABELS, label_scheme):
                seen += 1
                assert text[e["start"]:e["end"]] == e["text"] and 0 < e["score"] <= 1
                assert not re.match(r"\w", text[e["end"]:e["end"] + 1]) or not re.search(r"\w$", e["text"])
                assert not re.search(r"\w$", text[:e["start"]]) or not re.match(r"\w", e["text"])
                assert not re.match(r"[\s.,;:!?\"'(\[]", e["text"]) and not re.search(r"[\s.,;:!?\"')\]]$", e["text"])
    assert seen > 20


def test_trimming_keeps_punctuation_inside_a_dish():
    def trimmed(span_text):
        start, end = trim_span(span_text, 0, len(span_text))
        return span_text[start:end]

    assert trimmed('"(mac & cheese)!" ') == "mac & cheese"
    assert trimmed(". Gyōza") == "Gyōza"
    assert trimmed("General Tso's chicken.") == "General Tso's chicken"
    assert trimmed("crème brûlée,") == "crème brûlée"
    assert trimmed("pad thai (with shrimp)") == "pad thai (with shrimp)"  # a bracket paired inside stays
    assert trimmed("laksa)") == "laksa" and trimmed("[roti canai]") == "roti canai"
    assert trimmed("mac &") == "mac" and trimmed(" ... ") == ""
    text = 'The "mac & cheese", please.'
    offsets = [(0, 3), (4, 5), (5, 8), (9, 10), (11, 17), (17, 18), (18, 19), (20, 26), (26, 27)]
    probs = probs_of({"O": .9}, {"B-Dish": .9}, {"I-Dish": .9}, {"I-Dish": .9}, {"I-Dish": .9}, {"I-Dish": .9},
                     {"I-Dish": .9}, {"O": .9}, {"O": .9})
    (entity,) = decode_entities(text, offsets, probs, LABELS)
    assert (entity["text"], entity["start"], entity["end"]) == ("mac & cheese", 5, 17)


def test_bio_runs_read_leniently():
    assert tag_runs([LABELS[i] for i in (0, 2, 2, 0, 1, 1)]) == [(1, 3, "Dish"), (4, 5, "Dish"), (5, 6, "Dish")]
