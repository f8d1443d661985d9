"""Export to save_pretrained directories that plain transformers loads offline, and import back."""
import pytest
import torch
from transformers import AutoModelForPreTraining, AutoModelForTokenClassification, AutoTokenizer

from conftest import SAMPLE, SAMPLE_VOCAB_SIZE, TINY_ALBERT, assert_one_line_error, run_script, save_tagger
from datamodules.pretraining.datamodule import PretrainingDataModule
from datamodules.text.tokenization import load_tokenizer
from datamodules.text.tokenizer_state import tokenizer_from_checkpoint
from lightning_modules.albert_pretrain import AlbertPretrainModule
from lightning_modules.albert_token_classifier import AlbertTokenClassifierModule
from lightning_modules.checkpoints import save_module_checkpoint
from lightning_modules.inference.hf_export import export_checkpoint
from lightning_modules.inference.tagger_backends import load_hf_token_classifier

LABELS = ["O", "B-Dish", "I-Dish"]
TEXT = "the mala steamboat was great, and the chicken rice too!"
# ALBERT's user-defined pieces ( ) " - . in every position: transformers' own conversion split the text there
PUNCTUATED = ['the "mala-steamboat" (spicy) was 3.5 stars . really', "well...ok - fine", 'he said: "wow!" ( )']
CONFIG = {**TINY_ALBERT, "vocab_size": SAMPLE_VOCAB_SIZE}


@pytest.fixture
def spm(sample_spm):
    return str(sample_spm)


@pytest.mark.parametrize("model_type, hf_class", [("albert", "AlbertForTokenClassification"),
                                                  ("bert", "BertForTokenClassification")])
def test_fine_tuned_checkpoint_exports_with_equal_logits_and_tokenizer(tmp_path, spm, model_type, hf_class):
    torch.manual_seed(0)
    module = AlbertTokenClassifierModule(label_names=LABELS, albert_config=CONFIG,
                                         model_type=model_type).eval()
    save_tagger(module, tmp_path / "ft.ckpt", spm)
    assert export_checkpoint(str(tmp_path / "ft.ckpt"), str(tmp_path / "hf")) == \
        f"{hf_class}, float32 safetensors, tokenizer"

    hf_model = AutoModelForTokenClassification.from_pretrained(tmp_path / "hf").eval()
    ids = load_tokenizer(spm).encode_lines([TEXT])[0]
    assert hf_model.config.id2label == dict(enumerate(LABELS))
    input_ids = torch.tensor([[2, *ids, 3]])
    mask = torch.ones_like(input_ids)
    with torch.no_grad():
        ours, theirs = module(input_ids, mask), hf_model(input_ids=input_ids, attention_mask=mask).logits
    assert (ours - theirs).abs().max() < 1e-5


def test_exported_tokenizer_gives_the_ids_the_model_was_trained_on(tmp_path, spm):
    """Every sample review and the punctuation cases: AutoTokenizer's ids are our SentencePiece ids."""
    save_tagger(AlbertTokenClassifierModule(label_names=LABELS, albert_config=CONFIG), tmp_path / "ft.ckpt", spm)
    export_checkpoint(str(tmp_path / "ft.ckpt"), str(tmp_path / "hf"))
    hf_tokenizer = AutoTokenizer.from_pretrained(tmp_path / "hf")
    lines = (SAMPLE / "reviews.txt").read_text(encoding="utf-8").splitlines() + PUNCTUATED
    theirs = hf_tokenizer(lines, add_special_tokens=False)["input_ids"]
    ours = load_tokenizer(spm).encode_lines(lines)
    assert [line for line, a, b in zip(lines, theirs, ours) if a != b] == []
    assert hf_tokenizer.all_special_tokens == ["[CLS]", "[SEP]", "<unk>", "<pad>", "[MASK]"]


@pytest.mark.parametrize("model_type", ["albert", "bert"])
def test_pretraining_checkpoint_round_trips_into_finetuning(tmp_path, sample_tfrecord, spm, model_type):
    torch.manual_seed(0)
    module = AlbertPretrainModule(albert_config=CONFIG, model_type=model_type).eval()
    data = PretrainingDataModule(train_files=str(sample_tfrecord), tokenizer=spm)
    data.setup("fit")  # reads the tokenizer, which the checkpoint carries
    save_module_checkpoint(module, tmp_path / "pre.ckpt", data)
    export_checkpoint(str(tmp_path / "pre.ckpt"), str(tmp_path / "hf"))
    loaded = AutoModelForPreTraining.from_pretrained(tmp_path / "hf").eval()
    assert type(loaded) is type(module.model)
    input_ids = torch.tensor([[2, 10, 11, 12, 3, 13, 14, 3]])
    with torch.no_grad():
        a = module.model(input_ids=input_ids).prediction_logits
        b = loaded(input_ids=input_ids).prediction_logits
    assert (a - b).abs().max() < 1e-5
    # ... and back in: the directory initialises a tagger, tokenizer included
    tagger = AlbertTokenClassifierModule(label_names=LABELS, init_from=str(tmp_path / "hf"))
    assert tagger.hparams.model_type == model_type
    assert torch.equal(tagger.model.base_model.embeddings.word_embeddings.weight,
                       module.model.base_model.embeddings.word_embeddings.weight)
    state = tokenizer_from_checkpoint(str(tmp_path / "hf"))
    assert state["file_name"] == "spiece.model" and state["vocab_size"] == SAMPLE_VOCAB_SIZE


def test_float16_export_is_half_the_size_and_reads_back_as_float32(tmp_path, spm):
    torch.manual_seed(0)
    module = AlbertTokenClassifierModule(label_names=LABELS, albert_config=CONFIG).eval()
    save_tagger(module, tmp_path / "ft.ckpt", spm)
    result = run_script("export_hf.py", "--ckpt", str(tmp_path / "ft.ckpt"), "--output", str(tmp_path / "half"),
                        "--dtype", "float16")
    assert result.returncode == 0 and "float16 safetensors, tokenizer" in result.stdout, result.stderr[-2000:]
    export_checkpoint(str(tmp_path / "ft.ckpt"), str(tmp_path / "full"))
    half, full = ((tmp_path / d / "model.safetensors").stat().st_size for d in ("half", "full"))
    assert 0.45 < half / full < 0.55
    # Fine-tuning and predict.py compute in float32, on the float16-rounded weights.
    expected = module.model.base_model.embeddings.word_embeddings.weight.half().float()
    tagger = AlbertTokenClassifierModule(label_names=LABELS, init_from=str(tmp_path / "half"))
    served = load_hf_token_classifier(str(tmp_path / "half"))
    for model in (tagger.model, served):
        weight = model.base_model.embeddings.word_embeddings.weight
        assert weight.dtype == torch.float32 and torch.equal(weight, expected)


def test_export_refuses_to_overwrite_and_needs_a_checkpoint(tmp_path):
    (tmp_path / "out").mkdir()
    result = run_script("export_hf.py", "--ckpt", str(tmp_path / "none.ckpt"), "--output", str(tmp_path / "x"))
    assert_one_line_error(result, "none.ckpt", "does not exist")
    torch.save({"state_dict": {}}, tmp_path / "odd.ckpt")
    result = run_script("export_hf.py", "--ckpt", str(tmp_path / "odd.ckpt"), "--output", str(tmp_path / "out"))
    assert_one_line_error(result, "out exists", "--overwrite")
