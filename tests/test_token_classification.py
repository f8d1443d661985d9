import re

import numpy as np
import pytest

from conftest import SAMPLE
from datamodules.tagging.datamodule import (
    IGNORE_INDEX,
    TokenWindows,
    collate_windows,
    encode_text,
    token_labels,
    window_starts,
)
from datamodules.tagging.span_decoding import WindowMerger, decode_entities
from datamodules.tagging.span_labels import Span, TextExample
from datamodules.tagging.words import NO_WORD, is_first_subtoken, word_ids
from datamodules.text.tokenization import load_tokenizer

LABELS = ["O", "B-Dish", "I-Dish"]
INDEX = {n: i for i, n in enumerate(LABELS)}


@pytest.fixture(scope="module")
def spm(sample_spm):
    return load_tokenizer(sample_spm)


def one_hot(labels):
    probs = np.full((len(labels), len(LABELS)), 0.01, dtype=np.float32)
    for i, label in enumerate(labels):
        probs[i, max(label, 0)] = 0.98
    return probs


def test_labels_follow_character_spans_through_sub_words(spm):
    text = "Mala Steamboat, then (chicken rice)! Chicken rice again"
    spans = [Span(0, 14, "Dish"), Span(22, 34, "Dish"), Span(37, 49, "Dish")]
    encoded = encode_text(spm, TextExample(text, spans), INDEX)
    pieces = [(text[s:e], LABELS[label] if label >= 0 else "-")
              for (s, e), label in zip(encoded.offsets, encoded.labels)]
    tagged = [p for p in pieces if p[1] != "O" and p[1] != "-"]
    assert tagged[0][1] == "B-Dish" and all(t[1] == "I-Dish" for t in tagged[1:3])
    assert sum(1 for p in pieces if p[1] == "B-Dish") == 3
    assert ("(", "O") in pieces and (")", "O") in pieces and (",", "O") in pieces
    # the labels decode back to exactly the dish strings
    found = decode_entities(text, encoded.offsets, one_hot(encoded.labels), LABELS)
    assert [(e["text"], e["start"], e["end"]) for e in found] == [
        ("Mala Steamboat", 0, 14), ("chicken rice", 22, 34), ("Chicken rice", 37, 49)]


def test_first_subtoken_labels_one_decision_per_word(spm):
    text = "Mala Steamboat, then (chicken rice)! Chicken rice again"
    spans = [Span(0, 14, "Dish"), Span(22, 34, "Dish"), Span(37, 49, "Dish")]
    every = encode_text(spm, TextExample(text, spans), INDEX)
    first = encode_text(spm, TextExample(text, spans), INDEX, label_scheme="first")
    words = word_ids(text, first.offsets)
    starts = is_first_subtoken(words)
    assert (~starts & (words != NO_WORD)).sum() >= 2  # some words have several sub-tokens here
    for label_all, label_first, starts_word in zip(every.labels, first.labels, starts):
        assert label_first == (label_all if starts_word else IGNORE_INDEX)
    labelled = [(s, e) for (s, e), label in zip(first.offsets, first.labels) if label > 0]
    # one label for each of the 6 dish words, on the sub-token that starts it
    word_starts = {span.start + m.start() for span in spans for m in re.finditer(r"\w+", text[span.start:span.end])}
    assert labelled == [(s, e) for s, e in first.offsets if s in word_starts] and len(labelled) == 6
    # Decoding words by their first sub-token gives the dishes back whole.
    found = decode_entities(text, first.offsets, one_hot(first.labels), LABELS, label_scheme="first")
    assert [(e["text"], e["start"], e["end"]) for e in found] == [
        ("Mala Steamboat", 0, 14), ("chicken rice", 22, 34), ("Chicken rice", 37, 49)]


def test_token_labels_ignore_whitespace_pieces():
    assert token_labels([(0, 3), (3, 3), (4, 8)], [Span(4, 8, "Dish")], INDEX) == [0, IGNORE_INDEX, 1]


def test_windows_overlap_cover_and_merge_back(spm):
    text = " ".join(f"word{i} and the laksa number {i}." for i in range(60))
    spans = [Span(s, e, "Dish") for s, e in
             ((m, m + 5) for m in [i for i in range(len(text)) if text.startswith("laksa", i)])]
    encoded = encode_text(spm, TextExample(text, spans), INDEX)
    windows = TokenWindows([encoded], spm, max_seq_length=32, overlap=8)
    assert len(windows) > 5
    covered = set()
    for _, start, end in windows.windows:
        assert end - start <= 30
        covered |= set(range(start, end))
    assert covered == set(range(len(encoded.ids)))  # nothing truncated
    starts = window_starts(len(encoded.ids), 30, 8)
    assert all(b - a == 22 for a, b in zip(starts, starts[1:-1]))
    merger = WindowMerger(len(encoded.ids), 3)
    for index in range(len(windows)):
        item = windows[index]
        merger.add(int(item["window_start"]), one_hot(item["labels"][1:-1].tolist()))
    found = decode_entities(text, encoded.offsets, merger.probs, LABELS)
    assert len(found) == 60 and all(text[e["start"]:e["end"]] == "laksa" == e["text"] for e in found)


def test_batches_pad_to_their_longest_window(spm):
    texts = ["short one", "a somewhat longer review about the chicken rice we had"]
    encoded = [encode_text(spm, TextExample(t), INDEX) for t in texts]
    windows = TokenWindows(encoded, spm, max_seq_length=64, overlap=8)
    batch = collate_windows([windows[0], windows[1]])
    longest = len(encoded[1].ids) + 2
    assert batch["input_ids"].shape == (2, longest) < (2, 64)
    assert batch["attention_mask"][0].sum() == len(encoded[0].ids) + 2
    assert (batch["labels"][0, len(encoded[0].ids) + 2:] == IGNORE_INDEX).all()


def test_a_stray_b_inside_a_multi_word_dish_does_not_split_it():
    text = "we had tom yum soup and laksa"
    offsets = [(0, 2), (3, 6), (7, 10), (11, 14), (15, 19), (20, 23), (24, 29)]
    found = decode_entities(text, offsets, one_hot([0, 0, 1, 1, 2, 0, 1]), LABELS)
    assert [(e["text"], e["start"], e["end"]) for e in found] == [("tom yum soup", 7, 19), ("laksa", 24, 29)]
    assert all(0 < e["score"] <= 1 and set(e) == {"text", "start", "end", "type", "score"} for e in found)


def test_datamodule_labels_and_entity_type_filter(shared_data):
    from datamodules.tagging.datamodule import TokenClassificationDataModule

    mit = str(shared_data / "mit_restaurant" / "test.bio")
    spm_path = str(shared_data / "nyt_dish" / "nyt_spm.model")
    all_types = TokenClassificationDataModule(train_file=mit, tokenizer=spm_path)
    assert len(all_types.label_names) == 17 and all_types.label_names[0] == "O"
    dish_only = TokenClassificationDataModule(train_file=mit, tokenizer=spm_path, entity_types="Dish")
    assert dish_only.label_names == ["O", "B-Dish", "I-Dish"]
    dish_only.setup("fit")
    batch = next(iter(dish_only.train_dataloader()))
    assert batch["labels"].max() <= 2 and batch["input_ids"].shape[1] <= 128


def test_training_batches_are_length_grouped_and_evaluation_keeps_file_order(sample_spm):
    from datamodules.tagging.datamodule import TokenClassificationDataModule

    reviews = str(SAMPLE / "dish_train.csv")

    def padding_share(bucket_window: int) -> float:
        data = TokenClassificationDataModule(train_file=reviews, val_file=reviews, tokenizer=str(sample_spm),
                                             bucket_window=bucket_window)
        data.setup("fit")
        masks = [b["attention_mask"] for b in data.train_dataloader()]
        assert sum(len(m) for m in masks) == len(data.datasets["train"])  # every window once
        val_order = [int(i) for b in data.val_dataloader() for i in b["text_index"]]
        assert val_order == sorted(val_order)
        return 1 - sum(float(m.float().mean()) * m.numel() for m in masks) / sum(m.numel() for m in masks)

    assert padding_share(16) < 0.5 * padding_share(0)


def test_datamodule_takes_lists_of_files_and_a_label_map(sample_spm, tmp_path):
    from jsonargparse import ArgumentParser

    from datamodules.tagging.datamodule import TokenClassificationDataModule

    menu = tmp_path / "menu.bio"
    menu.write_text("the\tO\nbutter\tB-MENU\nchicken\tI-MENU\n\nnice\tO\nview\tO\n\n", encoding="utf-8")
    val_csv = str(SAMPLE / "dish_val.csv")  # 139 reviews
    data = TokenClassificationDataModule(train_file=[str(menu), val_csv], val_file=str(menu), tokenizer=str(sample_spm),
                                         label_map={"MENU": "Dish", "DISH": "Dish"})
    assert data.label_names == ["O", "B-Dish", "I-Dish"]
    assert len(data.examples["train"]) == 2 + 139 and len(data.examples["val"]) == 2
    parser = ArgumentParser()  # the CLI and YAML take one path or a list
    parser.add_class_arguments(TokenClassificationDataModule, "data")
    one = parser.parse_args(["--data.train_file", "a.csv", "--data.label_map", "{MENU: Dish}"])
    assert one.data.train_file == "a.csv" and one.data.label_map == {"MENU": "Dish"}
    assert parser.parse_args(["--data.train_file", "[a.bio, b.csv]"]).data.train_file == ["a.bio", "b.csv"]
