"""The models committed under models/: small, complete save_pretrained directories that load offline,
go into fine-tuning through --model.init_from, and have learned something about restaurant reviews."""
import torch
from transformers import AlbertForPreTraining, AutoTokenizer

from conftest import REPO
from lightning_modules.albert_token_classifier import AlbertTokenClassifierModule

ENCODER = REPO / "models" / "albert-reviews-small"
MAX_BYTES = 10 * 1024 * 1024
MIN_MLM_ACCURACY = 0.03  # measured 0.042 (an untrained copy: 0.0); see models/albert-reviews-small/README.md


def test_encoder_directory_is_small_and_complete():
    files = {p.name: p.stat().st_size for p in ENCODER.iterdir()}
    assert {"config.json", "model.safetensors", "spiece.model", "README.md", "curves.png"} <= set(files)
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
