"""The models committed under models/: small, complete save_pretrained directories that load offline,
go into fine-tuning through --model.init_from, have learned something about restaurant reviews, and
(the dish tagger) find dishes as well as their model cards say."""
import json
import subprocess
import sys

import pytest
import torch
from transformers import AlbertForPreTraining, AutoTokenizer

from conftest import REPO
from datamodules.tagging.span_labels import read_examples
from lightning_modules.albert_token_classifier import AlbertTokenClassifierModule
from lightning_modules.inference.span_predictor import SpanPredictor

ENCODER = REPO / "models" / "albert-reviews-small"
TAGGER = REPO / "models" / "dish-tagger-small"
MAX_BYTES = 10 * 1024 * 1024
MIN_MLM_ACCURACY = 0.08  # measured 0.103 (an untrained copy: 0.0; 0.042 through a mis-exported tokenizer)
README_REVIEW = "the laksa and roti canai were great"
README_DISHES = ["laksa", "roti"]  # what the README shows: "roti canai" is cut short (see the model card)
# (test split, label_map, model card's F1 - 0.005): exact character spans of the Dish type
TAGGER_TEST_F1 = [("menu_ner/test.bio", {"MENU": "Dish"}, 0.8337 - 0.005),
                  ("mit_restaurant/test.bio", None, 0.6872 - 0.005),
                  ("nyt_dish/test.csv", None, 0.3470 - 0.005)]


@pytest.mark.parametrize("directory, required", [
    (ENCODER, {"config.json", "model.safetensors", "spiece.model", "README.md", "curves.png"}),
    (TAGGER, {"config.json", "model.safetensors", "spiece.model", "tagger.json", "README.md"}),
], ids=["encoder", "tagger"])
def test_model_directory_is_small_and_complete(directory, required):
    files = {p.name: p.stat().st_size for p in directory.iterdir()}
    assert required <= set(files)
    assert sum(files.values()) <= MAX_BYTES, files


def masked_lm_accuracy(model, tokenizer, sentences: list[str], seed: int = 0) -> float:
    """Top-1 accuracy on 15% of the (non-special) tokens of ``sentences``, replaced by [MASK]."""
    batch = tokenizer(sentences, return_tensors="pt", padding=True, truncation=True, max_length=64)
    ids = batch["input_ids"]
    special = torch.tensor([tokenizer.get_special_tokens_mask(row, already_has_special_tokens=True)
                            for row in ids.tolist()], dtype=torch.bool)
    chosen = (torch.rand(ids.shape, generator=torch.Generator().manual_seed(seed)) < 0.15) & ~special & (
        batch["attention_mask"] == 1)
    with torch.no_grad():
        logits = model(input_ids=ids.masked_fill(chosen, tokenizer.mask_token_id),
                       attention_mask=batch["attention_mask"]).prediction_logits
    return (logits.argmax(-1)[chosen] == ids[chosen]).float().mean().item()


def test_encoder_predicts_masked_words_of_unseen_reviews(shared_data):
    """On Yelp sentences it never saw (MenuNER test, tokenized as there), above an untrained copy of itself."""
    lines = (shared_data / "menu_ner" / "test.bio").read_text(encoding="utf-8").split("\n\n")
    sentences = [" ".join(row.split()[0] for row in block.splitlines() if row.strip()) for block in lines[:200]]
    tokenizer = AutoTokenizer.from_pretrained(ENCODER)
    model = AlbertForPreTraining.from_pretrained(ENCODER).eval()
    torch.manual_seed(0)
    untrained = AlbertForPreTraining(model.config).eval()
    trained_accuracy = masked_lm_accuracy(model, tokenizer, sentences)
    assert trained_accuracy >= MIN_MLM_ACCURACY > masked_lm_accuracy(untrained, tokenizer, sentences)


def test_encoder_initializes_a_tagger():
    module = AlbertTokenClassifierModule(label_names=["O", "B-Dish", "I-Dish"], init_from=str(ENCODER))
    pretrained = AlbertForPreTraining.from_pretrained(ENCODER).albert.state_dict()
    for name, tensor in module.model.albert.state_dict().items():
        if name in pretrained:
            assert torch.equal(tensor, pretrained[name]), name
    assert module.config.vocab_size == 8000


def test_readme_command_finds_dishes_with_the_bundled_tagger():
    """The README's first command, as written there (standard input, no training, nothing downloaded)."""
    done = subprocess.run([sys.executable, "scripts/predict.py", "--model", "models/dish-tagger-small", "--input", "-"],
                          input=README_REVIEW + "\n", capture_output=True, text=True, cwd=REPO, timeout=120,
                          env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["text"] == README_REVIEW
    assert [d["text"] for d in record["dishes"]] == README_DISHES
    for dish in record["dishes"]:
        assert README_REVIEW[dish["start"]:dish["end"]] == dish["text"]


@pytest.mark.parametrize("path, label_map, min_f1", TAGGER_TEST_F1, ids=[t[0] for t in TAGGER_TEST_F1])
def test_bundled_tagger_scores_what_its_model_card_says(shared_data, path, label_map, min_f1):
    """Entity F1 (exact character spans) of predict.py's path on each corpus's test split: the model card's
    figure, less 0.005 for float rounding across CPU kinds."""
    examples = read_examples(str(shared_data / path), entity_types=["Dish"], label_map=label_map)
    predicted = SpanPredictor(str(TAGGER), device="cpu").predict([e.text for e in examples])
    gold = {(i, s.start, s.end) for i, e in enumerate(examples) for s in e.spans}
    found = {(i, d["start"], d["end"]) for i, entities in enumerate(predicted) for d in entities}
    f1 = 2 * len(gold & found) / (len(gold) + len(found))
    assert f1 >= min_f1
