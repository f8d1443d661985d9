"""scripts/score_spans.py: exact-span P/R/F1 of predict.py-format JSONL against a labelled file."""
import json

import pytest

from conftest import assert_one_line_error, run_script
from datamodules.tagging.span_labels import read_bio_examples
from datamodules.tagging.span_scoring import read_predictions, score_predictions

GOLD = "I\tO\nlike\tO\npad\tB-MENU\nsee\tI-MENU\new\tI-MENU\n\nthe\tO\nlaksa\tB-MENU\nrocks\tO\n\nno\tO\ndish\tO\n\n"


def jsonl(*records) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def dishes(text, *spans):
    return {"text": text, "dishes": [{"text": text[a:b], "start": a, "end": b, "score": 0.9} for a, b in spans]}


@pytest.fixture
def gold(tmp_path):
    path = tmp_path / "gold.bio"
    path.write_text(GOLD)
    return path


def test_exact_spans_count_and_a_span_cut_short_is_one_miss_and_one_error(gold, tmp_path):
    predictions = tmp_path / "p.jsonl"
    # "pad see ew" found only as "pad": a false positive and a false negative; "laksa" exact; a wrong "dish"
    predictions.write_text(jsonl(dishes("I like pad see ew", (7, 10)), dishes("the laksa rocks", (4, 9)),
                                 dishes("no dish", (3, 7))))
    scores = score_predictions(read_bio_examples(str(gold)), read_predictions(str(predictions)), "p.jsonl")
    assert (scores.true_positives, scores.false_positives, scores.false_negatives) == (1, 2, 1)
    assert scores.precision == pytest.approx(1 / 3) and scores.recall == pytest.approx(1 / 2)
    assert scores.f1 == pytest.approx(0.4)
    result = run_script("score_spans.py", "--gold", str(gold), "--predictions", str(predictions), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["f1"] == pytest.approx(0.4)


def test_typed_entities_must_match_the_type_too(gold, tmp_path):
    predictions = tmp_path / "p.jsonl"
    typed = [{"text": "I like pad see ew", "entities": [{"start": 7, "end": 17, "type": "Dish"}]},
             {"text": "the laksa rocks", "entities": [{"start": 4, "end": 9, "type": "MENU"}]},
             {"text": "no dish", "entities": []}]
    predictions.write_text(jsonl(*typed))
    scores = score_predictions(read_bio_examples(str(gold)), read_predictions(str(predictions)), "p.jsonl")
    assert (scores.true_positives, scores.false_positives, scores.false_negatives) == (1, 1, 1)


def test_written_texts_are_predict_py_input_in_the_gold_order(gold, tmp_path):
    texts = tmp_path / "texts.txt"
    assert run_script("score_spans.py", "--gold", str(gold), "--write-texts", str(texts)).returncode == 0
    assert texts.read_text().splitlines() == ["I like pad see ew", "the laksa rocks", "no dish"]


@pytest.mark.parametrize("case, fragments", [
    ("other_text", ["p.jsonl:2", "not the labelled text"]),
    ("missing_row", ["2 predicted texts for 3 labelled texts"]),
    ("not_json", ["p.jsonl:1", "expected predict.py's JSON object"]),
])
def test_misaligned_or_malformed_predictions_are_one_line_errors(gold, tmp_path, case, fragments):
    rows = {"other_text": jsonl(dishes("I like pad see ew"), dishes("the curry rocks"), dishes("no dish")),
            "missing_row": jsonl(dishes("I like pad see ew"), dishes("the laksa rocks")),
            "not_json": "{text: 1}\n"}[case]
    predictions = tmp_path / "p.jsonl"
    predictions.write_text(rows)
    assert_one_line_error(run_script("score_spans.py", "--gold", str(gold), "--predictions", str(predictions)),
                          *fragments)


def test_spacy_peer_keeps_the_gold_tokens_and_writes_what_the_scorer_reads(gold, tmp_path):
    from scripts.spacy_peer import prediction_record, words_and_spans  # importing it does not import spaCy

    example = read_bio_examples(str(gold))[0]
    words, spans = words_and_spans(example)
    assert words == ["I", "like", "pad", "see", "ew"] and spans == [(7, 17, "MENU")]
    predictions = tmp_path / "p.jsonl"
    predictions.write_text(jsonl(*[prediction_record(e.text, words_and_spans(e)[1])
                                   for e in read_bio_examples(str(gold))]))
    scores = score_predictions(read_bio_examples(str(gold)), read_predictions(str(predictions)), "p.jsonl")
    assert (scores.true_positives, scores.false_positives, scores.false_negatives) == (2, 0, 0)
