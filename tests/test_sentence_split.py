"""The rule-based sentence splitter that turns a review into ALBERT's sentences."""
import pytest

from datamodules.text.sentence_split import split_review, split_sentences


@pytest.mark.parametrize("text, sentences", [
    ("Great food.", ["Great food."]),
    ("great food, would come back", ["great food, would come back"]),
    ("The ribs were great. Service was slow! Would I return? Yes.",
     ["The ribs were great.", "Service was slow!", "Would I return?", "Yes."]),
    # abbreviations and initials are not boundaries
    ("We met Mr. Smith at the St. Louis bar. Dr. J. Doe was there too.",
     ["We met Mr. Smith at the St. Louis bar.", "Dr. J. Doe was there too."]),
    ("Order a side (e.g. Fries) with it. I.e. Something crunchy.",
     ["Order a side (e.g. Fries) with it.", "I.e. Something crunchy."]),
    ("My wife and I. We loved the U.S.A. Burger.", ["My wife and I.", "We loved the U.S.A. Burger."]),
    # a lost space after a word still ends a sentence, not after an abbreviation
    ("Great craving.This place rocks. Ask Mr.Smith or Mrs.Jones.", ["Great craving.", "This place rocks.",
                                                                  "Ask Mr.Smith or Mrs.Jones."]),
    # decimals, prices and times have no space after the dot
    ("It cost $4.50 for 2.5 lbs. Cheap at 9.30pm!", ["It cost $4.50 for 2.5 lbs.", "Cheap at 9.30pm!"]),
    # a digit or an opening quote starts a sentence; a lower-case word does not
    ("We waited. 20 minutes later it came. \"Sorry\" said the waiter. it was fine.",
     ["We waited.", "20 minutes later it came.", "\"Sorry\" said the waiter. it was fine."]),
    # ellipses: a boundary before a capital (with or without a space), not before a lower-case word
    ("Wait... what? Then... The bill… Huge. staff..Amazing food.",
     ["Wait... what?", "Then...", "The bill…", "Huge. staff..", "Amazing food."]),
    # closing quotes and brackets stay with their sentence
    ("He said \"never again.\" We agree. (Really!) Fine.", ["He said \"never again.\"", "We agree.", "(Really!)",
                                                           "Fine."]),
    # emoticons end a sentence when a capital follows, and stay with it
    ("Loved it :) Will be back! :( Sad it closed", ["Loved it :)", "Will be back! :(", "Sad it closed"]),
    ("Best ramen ever!!! 10/10 :-D", ["Best ramen ever!!!", "10/10 :-D"]),
    ("  ", []),
    ("", []),
])
def test_split_sentences(text, sentences):
    assert split_sentences(text) == sentences


def test_split_review_breaks_at_newlines_inside_a_cell():
    assert split_review("Great tacos\nthe salsa was hot. Cheap too.\r\n\n  \nBye") == [
        "Great tacos", "the salsa was hot.", "Cheap too.", "Bye"]


def test_long_review_is_split_in_linear_time():
    text = "The pho was good. " * 20000 + "x" * 100000
    sentences = split_sentences(text)
    assert len(sentences) == 20000 and sentences[-1].endswith("x" * 100000)
