import re

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from conftest import SAMPLE, SAMPLE_VOCAB_SIZE, TINY_ALBERT, seed_train_csv
from datamodules.common.errors import UserInputError
from datamodules.tagging.datamodule import TokenClassificationDataModule, TokenWindows, collate_windows, encode_text
from datamodules.tagging.span_labels import Span, TextExample
from datamodules.text.tokenization import load_tokenizer
from lightning_modules.albert_pretrain import AlbertPretrainModule
from lightning_modules.albert_token_classifier import AlbertTokenClassifierModule
from lightning_modules.checkpoints import save_module_checkpoint
from lightning_modules.span_metrics import SpanF1

LABELS = ["O", "B-Dish", "I-Dish"]


def test_span_f1_decodes_merged_windows_and_counts_an_overlap_entity_once(sample_spm):
    names = ["O", "B-A", "I-A", "B-B", "I-B"]
    index = {n: i for i, n in enumerate(names)}
    spm = load_tokenizer(sample_spm)
    long_text = "the laksa is good and cheap. " * 8
    laksas = [Span(m.start(), m.end(), "A") for m in re.finditer("laksa", long_text)]
    texts = [encode_text(spm, TextExample(long_text, laksas), index),
             encode_text(spm, TextExample("the pho was fine", [Span(4, 7, "B")]), index)]
    windows = TokenWindows(texts, spm, max_seq_length=16, overlap=8)

    def windows_holding(span):
        tokens = [i for i, (s, e) in enumerate(texts[0].offsets) if s < span.end and e > span.start]
        return sum(t == 0 and a <= tokens[0] and tokens[-1] < b for t, a, b in windows.windows)

    assert max(windows_holding(s) for s in laksas) >= 2  # a laksa in the overlap of windows
    batch = collate_windows([windows[i] for i in range(len(windows))])
    predicted = batch["labels"].clamp(min=0)
    pho = batch["text_index"] == 1
    as_a = torch.tensor([index[n.replace("-B", "-A")] for n in names])  # B-B -> B-A, I-B -> I-A: all its pieces
    predicted[pho] = as_a[predicted[pho]]
    probs = torch.nn.functional.one_hot(predicted, len(names)).float() * 0.9 + 0.02
    metric = SpanF1(names)
    for rows in (slice(0, 3), slice(3, None)):  # a text's windows in two batches
        metric.update(probs[rows], batch["attention_mask"][rows], batch["text_index"][rows],
                      batch["window_start"][rows])
    # 8 laksas found once each (counting per window would count those in overlaps twice), and "pho"
    # found as A: a false A and a missed B.
    counts = metric._counts(texts)
    assert counts.tolist() == [[8, 0], [1, 0], [0, 1]]
    result = metric.compute(texts)
    assert result["precision"] == pytest.approx(8 / 9) and result["recall"] == pytest.approx(8 / 9)
    assert result["f1_A"] == pytest.approx(16 / 17) and result["f1_B"] == 0


def test_init_from_pretraining_checkpoint_loads_the_encoder(tmp_path):
    pretrained = AlbertPretrainModule(albert_config={**TINY_ALBERT, "vocab_size": 100})
    ckpt = tmp_path / "pre.ckpt"
    save_module_checkpoint(pretrained, ckpt)
    tagger = AlbertTokenClassifierModule(label_names=LABELS, init_from=str(ckpt))
    loaded = tagger.model.albert.state_dict()
    assert len(loaded) > 10
    for name, tensor in loaded.items():  # every encoder tensor (the tagger has no pooler)
        assert torch.equal(pretrained.model.albert.state_dict()[name], tensor), name
    assert tagger.config.hidden_size == TINY_ALBERT["hidden_size"]  # config came from the checkpoint
    random = AlbertTokenClassifierModule(label_names=LABELS, albert_config={**TINY_ALBERT, "vocab_size": 100})
    assert not torch.equal(random.model.albert.embeddings.word_embeddings.weight,
                           pretrained.model.albert.embeddings.word_embeddings.weight)
    pretrained.model.albert.save_pretrained(tmp_path / "hf")
    from_hf = AlbertTokenClassifierModule(label_names=LABELS, init_from=str(tmp_path / "hf"))
    assert torch.equal(from_hf.model.albert.encoder.embedding_hidden_mapping_in.weight,
                       pretrained.model.albert.encoder.embedding_hidden_mapping_in.weight)
    with pytest.raises(UserInputError, match=r"word_embeddings.weight has shape \(100, 16\) but the model expects"):
        AlbertTokenClassifierModule(label_names=LABELS, init_from=str(ckpt),
                                    albert_config={**TINY_ALBERT, "vocab_size": 300})


def test_bert_tagger_from_a_bert_pretraining_checkpoint(tmp_path):
    pretrained = AlbertPretrainModule(albert_config={**TINY_ALBERT, "vocab_size": 100}, model_type="bert")
    ckpt = tmp_path / "bert.ckpt"
    save_module_checkpoint(pretrained, ckpt)
    tagger = AlbertTokenClassifierModule(label_names=LABELS, init_from=str(ckpt))  # type from the checkpoint
    assert tagger.hparams.model_type == "bert" and type(tagger.model).__name__ == "BertForTokenClassification"
    for name, tensor in tagger.model.bert.state_dict().items():
        assert torch.equal(pretrained.model.bert.state_dict()[name], tensor), name
    assert tagger.model.config.classifier_dropout == 0.1
    with pytest.raises(UserInputError, match="holds a bert model but model.model_type is albert"):
        AlbertTokenClassifierModule(label_names=LABELS, init_from=str(ckpt), model_type="albert")
    pretrained.model.save_pretrained(tmp_path / "hf")
    from_hf = AlbertTokenClassifierModule(label_names=LABELS, init_from=str(tmp_path / "hf"))
    assert torch.equal(from_hf.model.bert.embeddings.word_embeddings.weight,
                       pretrained.model.bert.embeddings.word_embeddings.weight)


@pytest.mark.parametrize("model_type, label_scheme", [("albert", "all"), ("bert", "first")])
def test_tiny_model_learns_the_seed_toy_task_to_f1_1(sample_spm, tmp_path, model_type, label_scheme):
    pl.seed_everything(0)
    train = str(seed_train_csv(tmp_path))
    data = TokenClassificationDataModule(train_file=train, val_file=train, batch_size=2, tokenizer=str(sample_spm),
                                         label_scheme=label_scheme)
    model = AlbertTokenClassifierModule(label_names=data.label_names,
                                        albert_config={**TINY_ALBERT, "vocab_size": SAMPLE_VOCAB_SIZE},
                                        label_scheme=label_scheme, model_type=model_type, learning_rate=0.01,
                                        warmup_ratio=0.0, classifier_dropout=0.0)
    trainer = pl.Trainer(max_epochs=40, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path,
                         num_sanity_val_steps=0, check_val_every_n_epoch=40)
    trainer.fit(model, data)
    (metrics,) = trainer.validate(model, data, verbose=False)
    assert metrics["val/f1"] == 1.0 and metrics["val/token_accuracy"] == 1.0


def test_layerwise_lr_decay_groups():
    model = AlbertTokenClassifierModule(label_names=LABELS, albert_config={**TINY_ALBERT, "vocab_size": 50},
                                        learning_rate=1.0, layerwise_lr_decay=0.5)
    lrs = {}
    for group in model._param_groups():
        for p in group["params"]:
            lrs[id(p)] = group["lr"]
    assert lrs[id(model.model.classifier.weight)] == 1.0
    assert lrs[id(model.model.albert.encoder.embedding_hidden_mapping_in.weight)] == 0.5
    assert lrs[id(model.model.albert.embeddings.word_embeddings.weight)] == 0.25


def test_checkpoint_carries_the_text_encoding_of_the_data(sample_spm, tmp_path):
    """The module learns the tokenizer and windows from its DataModule and saves them in its own entry."""
    train = str(seed_train_csv(tmp_path))
    data = TokenClassificationDataModule(train_file=train, val_file=train, batch_size=2, tokenizer=str(sample_spm),
                                         do_lower_case=False, max_seq_length=16, window_overlap=4)
    model = AlbertTokenClassifierModule(label_names=data.label_names,
                                        albert_config={**TINY_ALBERT, "vocab_size": SAMPLE_VOCAB_SIZE})
    trainer = pl.Trainer(max_steps=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)
    trainer.fit(model, data)
    trainer.save_checkpoint(tmp_path / "tagger.ckpt")
    checkpoint = torch.load(tmp_path / "tagger.ckpt", weights_only=False)
    assert type(data).__qualname__ not in checkpoint  # the DataModule saves nothing of its own
    restored = AlbertTokenClassifierModule.load_from_checkpoint(tmp_path / "tagger.ckpt", map_location="cpu")
    assert restored.text_encoding == data.text_encoding
    assert restored.text_encoding.max_seq_length == 16 and restored.text_encoding.tokenizer["do_lower_case"] is False


def test_resumed_fine_tuning_ends_with_the_uninterrupted_run_s_weights(sample_spm, tmp_path):
    """Killed mid-epoch and resumed from its checkpoint, a run with dropout on computes what an uninterrupted
    run computes: same batches (the loader's saved position and seed), same dropout masks (saved RNG state)."""
    def run(max_steps: int, resume_from=None):
        pl.seed_everything(3)
        data = TokenClassificationDataModule(train_file=str(SAMPLE / "dish_train.csv"),
                                             val_file=str(SAMPLE / "dish_val.csv"), batch_size=64,
                                             tokenizer=str(sample_spm), max_seq_length=32, window_overlap=8)
        model = AlbertTokenClassifierModule(label_names=data.label_names,
                                            albert_config={**TINY_ALBERT, "vocab_size": SAMPLE_VOCAB_SIZE},
                                            hidden_dropout=0.1, classifier_dropout=0.1, learning_rate=1e-3)
        trainer = pl.Trainer(max_steps=max_steps, accelerator="cpu", logger=False, enable_progress_bar=False,
                             enable_model_summary=False, default_root_dir=tmp_path, limit_val_batches=2,
                             callbacks=[ModelCheckpoint(dirpath=tmp_path, filename="{step}", every_n_train_steps=5,
                                                        save_top_k=-1)])
        trainer.fit(model, data, ckpt_path=resume_from)
        return model, trainer

    uninterrupted, trainer = run(17)
    assert trainer.num_training_batches < 17  # the run crosses an epoch boundary; the checkpoint is mid-epoch
    resumed, _ = run(17, resume_from=str(tmp_path / "step=15.ckpt"))
    for (name, a), b in zip(uninterrupted.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name

    # the state is in the file, yet loading it only to predict or export does not put it in the caller's generator
    saved = torch.load(tmp_path / "step=15.ckpt", weights_only=False)["rng_state"]
    AlbertTokenClassifierModule.load_from_checkpoint(tmp_path / "step=15.ckpt", map_location="cpu")
    assert not torch.equal(torch.get_rng_state(), saved)
