"""--model.objective rtd: ELECTRA's replaced-token detection with a generator sharing ALBERT's embeddings."""
import math

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import AlbertForPreTraining

from conftest import SAMPLE_VOCAB_SIZE, TINY_ALBERT, run_script
from datamodules.common.errors import UserInputError
from datamodules.pretraining.datamodule import PretrainingRecords, collate_pretraining
from lightning_modules.albert_pretrain import AlbertPretrainModule
from lightning_modules.albert_token_classifier import AlbertTokenClassifierModule
from lightning_modules.checkpoints import save_module_checkpoint
from lightning_modules.optimization import decay_param_groups
from lightning_modules.pretraining_objectives import corrupt_with_samples

CONFIG = {**TINY_ALBERT, "vocab_size": SAMPLE_VOCAB_SIZE}


def rtd_module(**options) -> AlbertPretrainModule:
    torch.manual_seed(0)
    return AlbertPretrainModule(albert_config=CONFIG, objective="rtd", **options)


def batches(path, count: int, size: int = 16) -> list[dict]:
    records = PretrainingRecords([str(path)])
    return [collate_pretraining([records[(i * size + j) % len(records)] for j in range(size)]) for i in range(count)]


def test_generator_shares_the_embeddings_and_is_a_quarter_as_wide():
    module = rtd_module()
    shared = module.model.albert.embeddings
    assert module.generator.albert.embeddings is shared
    assert module.generator.predictions.decoder.weight is shared.word_embeddings.weight
    assert module.generator.config.hidden_size == CONFIG["hidden_size"] // 4
    assert module.generator.config.embedding_size == CONFIG["embedding_size"]
    # Each shared tensor is optimized once.
    params = [p for group in decay_param_groups(module, 0.01) for p in group["params"]]
    assert len(params) == len({id(p) for p in params})


def test_samples_replace_only_real_masked_positions_and_an_equal_sample_counts_as_original():
    batch = {"input_ids": torch.tensor([[2, 4, 7, 4, 3, 0]]), "input_mask": torch.tensor([[1, 1, 1, 1, 1, 0]]),
             "masked_lm_positions": torch.tensor([[1, 3, 0]]), "masked_lm_ids": torch.tensor([[9, 8, 0]]),
             "masked_lm_weights": torch.tensor([[1.0, 1.0, 0.0]])}
    logits = torch.full((1, 3, 12), -1e4)
    logits[0, 0, 9] = logits[0, 1, 11] = logits[0, 2, 5] = 0.0  # slot 0 samples its original; slot 2 is padding
    corrupted, replaced = corrupt_with_samples(batch, logits)
    assert corrupted.tolist() == [[2, 9, 7, 11, 3, 0]]
    assert replaced.tolist() == [[False, False, False, True, False, False]]


def binary_entropy(p: float) -> float:
    return -(p * math.log(p) + (1 - p) * math.log(1 - p))


def test_rtd_training_learns_to_detect_replaced_tokens(sample_tfrecord):
    module = rtd_module()
    optimizer = torch.optim.AdamW(decay_param_groups(module, 0.01), lr=1e-3)
    history = []
    for batch in batches(sample_tfrecord, 150):
        metrics = module(batch)
        metrics["loss"].backward()
        optimizer.step()
        optimizer.zero_grad()
        history.append({k: float(v) for k, v in metrics.items()})
    # Below what the best constant guess (the batch's replaced share) would lose: it tells tokens apart.
    margins = [h["rtd_loss"] - binary_entropy(h["rtd_replaced_share"]) for h in history[40:]]
    assert sum(margins) / len(margins) < -0.015
    assert sum(h["gen_mlm_loss"] for h in history[-10:]) < sum(h["gen_mlm_loss"] for h in history[:10])
    assert {"sop_loss", "rtd_accuracy", "rtd_replaced_recall", "gen_mlm_replaced_accuracy"} <= set(history[-1])
    assert module.model.predictions.dense.weight.grad is None  # the encoder's own MLM head is not trained


def test_checkpoint_holds_a_plain_albert_and_fine_tuning_starts_from_its_encoder(tmp_path):
    module = rtd_module()
    model_keys = {k[len("model."):] for k in module.state_dict() if k.startswith("model.")}
    assert model_keys == set(AlbertForPreTraining(module.config).state_dict())
    path = save_module_checkpoint(module, str(tmp_path / "rtd.ckpt"))
    tagger = AlbertTokenClassifierModule(label_names=["O", "B-Dish", "I-Dish"], init_from=path)
    pretrained = module.model.albert.state_dict()
    loaded = tagger.model.albert.state_dict()  # a token classifier's encoder has no pooler
    assert set(loaded) == set(pretrained) - {"pooler.weight", "pooler.bias"}
    for name, value in loaded.items():
        torch.testing.assert_close(value, pretrained[name])


def test_without_sentence_order_its_head_is_frozen_and_not_computed(sample_tfrecord):
    module = rtd_module(sop_weight=0.0)
    metrics = module(batches(sample_tfrecord, 1)[0])
    assert "sop_loss" not in metrics
    assert not any(p.requires_grad for p in module.model.sop_classifier.parameters())
    assert not any(p.requires_grad for p in module.model.albert.pooler.parameters())
    assert module.model.albert.embeddings.word_embeddings.weight.requires_grad


def test_counted_flops_equal_torch_s_count_of_an_rtd_step(sample_tfrecord):
    module = rtd_module(attn_implementation="eager", sop_weight=0.0)  # torch's counter skips CPU flash attention
    batch = batches(sample_tfrecord, 1, size=8)[0]
    with FlopCounterMode(display=False) as counter:
        module(batch)["loss"].backward()
    pooler = 8 * CONFIG["hidden_size"] ** 2 * 2  # computed by AlbertModel, though unused without SOP (no backward)
    assert module.training_gflop(batch) == pytest.approx((counter.get_total_flops() - pooler) / 1e9, rel=1e-6)


def test_rtd_needs_albert():
    with pytest.raises(UserInputError, match="model_type albert"):
        AlbertPretrainModule(albert_config=CONFIG, model_type="bert", objective="rtd")


def test_cli_rtd_run_resumes_to_the_uninterrupted_run_s_weights(sample_tfrecord, sample_spm, tmp_path):
    # The generator's samples come from torch's RNG: the checkpoint's RNG state makes a resumed run draw the same.
    args = ["fit", "--config", "configs/pretrain_toy.yaml", "--trainer.enable_progress_bar", "false",
            "--trainer.limit_val_batches", "0", "--checkpoint.every_n_train_steps", "6", "--data.batch_size", "16",
            "--data.train_files", str(sample_tfrecord), "--data.tokenizer", str(sample_spm),
            "--model.objective", "rtd", "--model.sop_weight", "0", "--model.warmup_steps", "2",
            "--trainer.max_steps", "12", "--progress_log.every_n_steps", "6", "--checkpoint.save_top_k", "-1"]
    whole = run_script("pretrain.py", *args, "--trainer.default_root_dir", str(tmp_path / "whole"))
    assert whole.returncode == 0, whole.stderr[-3000:]
    assert " rtd_accuracy " in [line for line in whole.stdout.splitlines() if line.startswith("step ")][-1]
    (halfway,) = (tmp_path / "whole/checkpoints").glob("step-*6.ckpt")
    part = tmp_path / "part"
    second = run_script("pretrain.py", *args, "--trainer.default_root_dir", str(part), "--ckpt_path", str(halfway))
    assert second.returncode == 0, second.stderr[-3000:]
    expected = torch.load(tmp_path / "whole/checkpoints/last.ckpt", map_location="cpu", weights_only=False)
    resumed = torch.load(part / "checkpoints/last.ckpt", map_location="cpu", weights_only=False)
    assert resumed["global_step"] == 12
    for name, value in expected["state_dict"].items():
        torch.testing.assert_close(resumed["state_dict"][name], value, rtol=0, atol=0, msg=name)
