import lightning.pytorch as pl
import pytest
import torch
from transformers import AlbertForPreTraining, BertForPreTraining

from conftest import SAMPLE_VOCAB_SIZE, TINY_ALBERT
from datamodules.common.errors import TrainingStoppedError, UserInputError
from datamodules.pretraining.datamodule import PretrainingDataModule, PretrainingRecords, collate_pretraining
from lightning_modules.albert_pretrain import AlbertPretrainModule
from lightning_modules.checkpoints import save_module_checkpoint
from lightning_modules.lamb import Lamb

SAMPLE_CONFIG = {**TINY_ALBERT, "vocab_size": SAMPLE_VOCAB_SIZE}


def first_batch(path, n=8):
    records = PretrainingRecords([str(path)])
    return collate_pretraining([records[i] for i in range(n)])


@pytest.mark.parametrize("model_type", ["albert", "bert"])
def test_gathered_loss_equals_transformers_full_logits_loss(sample_tfrecord, model_type):
    torch.manual_seed(0)
    module = AlbertPretrainModule(albert_config=SAMPLE_CONFIG, model_type=model_type).eval()
    batch = first_batch(sample_tfrecord)
    labels = torch.full_like(batch["input_ids"], -100)
    for b in range(labels.size(0)):
        masked = zip(batch["masked_lm_positions"][b], batch["masked_lm_ids"][b], batch["masked_lm_weights"][b])
        for pos, tid, w in masked:
            if w > 0:
                labels[b, pos] = tid
    with torch.no_grad():
        # every guess is the commonest target (so both accuracies are its share, all targets' and replaced ones')
        module.model.get_output_embeddings().bias[labels[labels != -100].mode().values] += 100.0
        ours = module(batch)
        order_label = {"albert": "sentence_order_label", "bert": "next_sentence_label"}[model_type]
        hf = module.model(input_ids=batch["input_ids"], attention_mask=batch["input_mask"],
                          token_type_ids=batch["segment_ids"], labels=labels,
                          **{order_label: batch["next_sentence_labels"].view(-1)})
    torch.testing.assert_close(ours["loss"], hf.loss, rtol=1e-4, atol=1e-4)
    # accuracies from transformers' full logits: all targets (Google's), and those whose input was replaced
    target = labels != -100
    correct = (hf.prediction_logits.argmax(-1) == labels)[target].float()
    replaced = (batch["input_ids"] != labels)[target]
    assert 0 < replaced.sum() < target.sum()  # the batch has unchanged targets too
    torch.testing.assert_close(ours["mlm_accuracy"], correct.mean(), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(ours["mlm_replaced_accuracy"], correct[replaced].mean(), rtol=1e-4, atol=1e-4)
    assert 0 < float(ours["mlm_replaced_accuracy"]) != float(ours["mlm_accuracy"]) > 0
    assert 0.0 <= float(ours["sop_accuracy"]) <= 1.0


@pytest.mark.parametrize("model_type, reference_class", [("albert", AlbertForPreTraining),
                                                        ("bert", BertForPreTraining)])
def test_weights_keep_transformers_layout(model_type, reference_class):
    module = AlbertPretrainModule(albert_config={**TINY_ALBERT, "vocab_size": 100}, model_type=model_type)
    reference = reference_class(module.config)
    assert {k[len("model."):] for k in module.state_dict()} == set(reference.state_dict())


def test_bert_embeds_at_hidden_size_and_its_loss_falls(sample_tfrecord):
    """model_type bert: same sizes dict, no factorised embedding, trains on the same records."""
    torch.manual_seed(0)
    bert = AlbertPretrainModule(albert_config=SAMPLE_CONFIG, model_type="bert")
    albert = AlbertPretrainModule(albert_config=SAMPLE_CONFIG)
    assert bert.model.bert.embeddings.word_embeddings.weight.shape == (SAMPLE_VOCAB_SIZE, TINY_ALBERT["hidden_size"])
    assert albert.model.albert.embeddings.word_embeddings.weight.shape == (SAMPLE_VOCAB_SIZE,
                                                                           TINY_ALBERT["embedding_size"])
    assert "embedding_size" not in bert.hparams.albert_config and bert.hparams.model_type == "bert"
    batch = first_batch(sample_tfrecord)
    optimizer = Lamb(bert.parameters(), lr=0.05)
    losses = []
    for _ in range(20):
        loss = bert(batch)["loss"]
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.6 * losses[0], losses  # 6.7 -> 3.5 in practice: it learns the batch
    with pytest.raises(UserInputError, match="model.model_type 'gpt': expected one of albert, bert"):
        AlbertPretrainModule(albert_config=SAMPLE_CONFIG, model_type="gpt")


def test_seed_albert_config_json_trains_a_step(shared_data):
    module = AlbertPretrainModule(albert_config=str(shared_data / "seed_toy" / "albert_config.json"))
    assert (module.config.hidden_size, module.config.num_hidden_layers, module.config.vocab_size) == (768, 12, 159)
    # Google's "gelu" is the tanh approximation, computed by torch's fused kernel
    assert module.config.hidden_act == "gelu_pytorch_tanh"
    batch = first_batch(shared_data / "seed_toy" / "restaurant_review_train", n=2)
    loss = module(batch)["loss"]
    loss.backward()
    assert torch.isfinite(loss) and module.model.albert.embeddings.word_embeddings.weight.grad is not None


def test_init_from_checkpoint_and_hf_directory(tmp_path):
    config = {**TINY_ALBERT, "vocab_size": 100}
    source = AlbertPretrainModule(albert_config=config)
    ckpt = tmp_path / "x.ckpt"
    save_module_checkpoint(source, ckpt)
    loaded = AlbertPretrainModule(albert_config=config, init_from=str(ckpt))
    for (name, a), b in zip(source.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), name
    source.model.save_pretrained(tmp_path / "hf")
    from_hf = AlbertPretrainModule(init_from=str(tmp_path / "hf"))  # the config comes from the directory
    assert from_hf.config.hidden_size == TINY_ALBERT["hidden_size"] and from_hf.hparams.model_type == "albert"
    assert torch.equal(from_hf.model.albert.encoder.embedding_hidden_mapping_in.weight,
                       source.model.albert.encoder.embedding_hidden_mapping_in.weight)
    with pytest.raises(UserInputError, match=r"word_embeddings.weight has shape \(100, 16\) but the model expects"):
        AlbertPretrainModule(albert_config={**config, "vocab_size": 200}, init_from=str(ckpt))
    with pytest.raises(UserInputError, match="does not exist"):
        AlbertPretrainModule(albert_config=config, init_from=str(tmp_path / "missing.ckpt"))


def test_checkpoint_loads_after_its_init_directory_is_gone(tmp_path):
    """The checkpoint holds the weights and the resolved config, so the init source is not read again."""
    import shutil

    AlbertPretrainModule(albert_config={**TINY_ALBERT, "vocab_size": 100}).model.save_pretrained(tmp_path / "hf")
    module = AlbertPretrainModule(init_from=str(tmp_path / "hf"), learning_rate=0.01)
    save_module_checkpoint(module, tmp_path / "run.ckpt")
    shutil.rmtree(tmp_path / "hf")
    restored = AlbertPretrainModule.load_from_checkpoint(tmp_path / "run.ckpt", map_location="cpu")
    assert restored.hparams.init_from is None and restored.hparams.learning_rate == 0.01
    for (name, a), b in zip(module.state_dict().items(), restored.state_dict().values()):
        assert torch.equal(a, b), name


def test_bad_albert_config(tmp_path):
    with pytest.raises(UserInputError, match="does not exist"):
        AlbertPretrainModule(albert_config=str(tmp_path / "nope.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(UserInputError, match="not valid JSON"):
        AlbertPretrainModule(albert_config=str(bad))


def test_tiny_model_loss_falls_on_the_seed_corpus(shared_data, tmp_path):
    """50 LAMB steps on the seed's 40 Google-written records (seq 512, trimmed to the real length)."""
    pl.seed_everything(0)
    module = AlbertPretrainModule(albert_config={**TINY_ALBERT, "vocab_size": 159}, learning_rate=0.01, warmup_steps=5)
    data = PretrainingDataModule(train_files=str(shared_data / "seed_toy" / "restaurant_review_train"), batch_size=8,
                                 tokenizer=str(shared_data / "seed_toy" / "vocab.txt"), do_lower_case=False)
    losses = []

    class Record(pl.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            losses.append(float(outputs["loss"]))

    trainer = pl.Trainer(max_steps=50, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, gradient_clip_val=1.0,
                         default_root_dir=tmp_path, callbacks=[Record()])
    trainer.fit(module, data)
    assert len(losses) == 50
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.8 * first, (first, last)  # from ~ln(159)+ln(2) = 5.8 to ~3.9 in practice


class NaNAtSteps(AlbertPretrainModule):
    """Makes the loss NaN on chosen training calls, as a diverging run would."""

    def __init__(self, nan_calls, **kwargs):
        super().__init__(**kwargs)
        self.nan_calls, self.calls = set(nan_calls), 0

    def forward(self, batch):
        out = super().forward(batch)
        self.calls += 1
        if self.calls in self.nan_calls:
            out["loss"] = out["loss"] * float("nan")
        return out


def fit_sample_data(sample_tfrecord, module, tmp_path, steps):
    data = PretrainingDataModule(train_files=str(sample_tfrecord), batch_size=8)
    trainer = pl.Trainer(max_steps=steps, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)
    trainer.fit(module, data)
    return trainer


def test_nonfinite_loss_skips_the_step_and_stops_after_too_many(sample_tfrecord, tmp_path):
    module = NaNAtSteps({3, 4}, albert_config=SAMPLE_CONFIG, warmup_steps=0, max_nonfinite_steps=3)
    trainer = fit_sample_data(sample_tfrecord, module, tmp_path, steps=6)
    assert module._skipped_steps == 2 and trainer.global_step == 6  # skipped steps update no weight
    assert all(torch.isfinite(p).all() for p in module.parameters())
    diverging = NaNAtSteps(range(100), albert_config=SAMPLE_CONFIG, max_nonfinite_steps=3)
    with pytest.raises(TrainingStoppedError, match="NaN/inf in 3 steps in a row"):
        fit_sample_data(sample_tfrecord, diverging, tmp_path, steps=10)


def test_adamw_option_uses_the_same_decay_groups_and_trains(sample_tfrecord, tmp_path):
    pl.seed_everything(0)
    module = AlbertPretrainModule(albert_config=SAMPLE_CONFIG, optimizer="adamw", learning_rate=1e-2, warmup_steps=2)
    losses = []

    class Record(pl.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            losses.append(float(outputs["loss"]))

    trainer = pl.Trainer(max_steps=30, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path,
                         callbacks=[Record()])
    trainer.fit(module, PretrainingDataModule(train_files=str(sample_tfrecord), batch_size=8))
    (optimizer,) = trainer.optimizers
    assert type(optimizer) is torch.optim.AdamW
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.01, 0.0]
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.9 * first, (first, last)  # 6.6 -> 5.9 in practice
