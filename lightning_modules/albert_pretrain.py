"""AlbertPretrainModule: masked-LM + sentence-order pretraining of transformers' ALBERT (or BERT) on Lightning.

The weights live in a ``transformers.AlbertForPreTraining`` (``BertForPreTraining`` with
``model_type: bert``) as ``self.model``, so a checkpoint's ``model.*`` tensors are exactly that
class's ``state_dict`` and ``save_pretrained`` works without renaming. The forward pass is ours: the
MLM head runs only on the gathered masked positions (Google's ``gather_indexes``), not on every
position as ``AlbertForPreTraining.forward`` does.
"""
from __future__ import annotations

import time
from typing import Any, Literal, Optional, Union

import lightning.pytorch as pl
import torch

from datamodules.common.errors import TrainingStoppedError, UserInputError
from lightning_modules.albert_init import PRETRAINING, build_model, store_resolved
from lightning_modules.lamb import Lamb
from lightning_modules.model_flops import pretraining_gflop
from lightning_modules.optimization import decay_param_groups, warmup_poly_decay
from lightning_modules.pretraining_objectives import (
    ReplacedTokenHead,
    build_generator,
    corrupt_with_samples,
    gather_positions,
    masked_lm_terms,
    replaced_token_terms,
    sentence_order_terms,
)
from lightning_modules.rng_checkpoint import RngStateCheckpoint


class AlbertPretrainModule(pl.LightningModule):
    """ALBERT pretraining: loss = weighted masked-LM cross-entropy + sentence-order cross-entropy.

    Args:
        albert_config: path to a Google/HF ``albert_config.json`` (or a HF model dir), or its fields as a dict
            (with ``model_type: bert``, BERT's fields; ALBERT-only ones such as embedding_size are ignored).
            Default: the config stored with ``init_from``.
        model_type: ``albert`` (default) or ``bert`` (transformers' BertForPreTraining; its NSP head
            learns the same sentence-order labels). Default: the type stored with ``init_from``.
        vocab_size: overrides the config's vocab_size (must cover the tokenizer and the data's ids).
        init_from: start from our pretraining ``.ckpt`` or a ``save_pretrained`` directory.
        optimizer: ``lamb`` (ALBERT's; its step changes each weight matrix by a fixed fraction of its norm) or
            ``adamw`` (each weight by about the learning rate, whatever its norm; on the review recipe it did
            not learn faster: models/albert-reviews-small/README.md).
        learning_rate: peak learning rate (ALBERT's LAMB: 0.00176 at batch 4096).
        warmup_steps: linear warmup steps; then polynomial decay to 0 at the trainer's last step.
        poly_power: power of the decay (1.0 = linear, as in ALBERT).
        weight_decay: weight decay (not on LayerNorm/bias).
        betas, eps: the optimizer's moments and epsilon (ALBERT: 0.9, 0.999, 1e-6).
        max_nonfinite_steps: a NaN/inf loss skips its step (counted in ``train/skipped_steps``); this many
            in a row stop training with an error. 0 turns the check off (it costs one host sync per step).
        compile: ``torch.compile`` the encoder (``nn.Module.compile``: the weights and checkpoint keys stay as
            they are); the first steps and each new batch length compile, later ones run the fused kernels.
        attn_implementation: transformers' attention kernel, ``sdpa`` (its default for ALBERT and BERT:
            PyTorch's fused scaled-dot-product attention) or ``eager`` (the matmuls written out).
        objective: ``mlm`` (masked LM, ALBERT's) or ``rtd`` (ELECTRA's replaced-token detection: a generator of
            ``generator_size`` times the width, sharing the embeddings, fills the masked positions with samples
            and the encoder labels every token original or replaced; lightning_modules/pretraining_objectives.py).
            The encoder (``model.albert``) is what fine-tuning and export use either way; with rtd the saved
            masked-LM head of ``model`` stays untrained (the generator's is not exported).
        sop_weight: weight of the sentence-order loss (0: none; its pooler and head are then frozen).
        generator_size: with rtd, the generator's hidden/heads/intermediate sizes as a share of the encoder's.
        rtd_weight: with rtd, loss = generator MLM loss + rtd_weight x detection loss (ELECTRA: 50).
    """

    def __init__(
        self,
        albert_config: Union[str, dict, None] = None,
        model_type: Optional[str] = None,
        vocab_size: Optional[int] = None,
        init_from: Optional[str] = None,
        optimizer: Literal["lamb", "adamw"] = "lamb",
        learning_rate: float = 0.00176,
        warmup_steps: int = 3125,
        poly_power: float = 1.0,
        weight_decay: float = 0.01,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-6,
        max_nonfinite_steps: int = 10,
        compile: bool = False,
        attn_implementation: Literal["sdpa", "eager"] = "sdpa",
        objective: Literal["mlm", "rtd"] = "mlm",
        sop_weight: float = 1.0,
        generator_size: float = 0.25,
        rtd_weight: float = 50.0,
    ):
        super().__init__()
        self.backbone, self.config, self.model = build_model(PRETRAINING, albert_config, model_type, init_from,
                                                             vocab_size)
        self.save_hyperparameters()
        store_resolved(self.hparams, self.backbone, self.config)
        if objective == "rtd":
            if self.backbone.name != "albert":
                raise UserInputError("model.objective rtd shares ALBERT's factorized embeddings with its generator: "
                                     "use model.model_type albert")
            self.generator = build_generator(self.model, self.config, generator_size)
            self.rtd_head = ReplacedTokenHead(self.config.hidden_size)
        self._freeze_unused_heads()
        for encoder in [self.model.base_model, *([self.generator.albert] if objective == "rtd" else [])]:
            encoder.set_attn_implementation(attn_implementation)
            if compile:
                encoder.compile()
        self._last_batch_time: Optional[float] = None
        self._nonfinite_in_a_row = 0
        self._skipped_steps = 0

    def _freeze_unused_heads(self) -> None:
        """Heads that get no gradient under these settings are frozen (DDP fails on parameters without a
        gradient): the sentence-order pooler and head without SOP; with rtd, the encoder's own masked-LM head
        (not the word embeddings its decoder shares)."""
        unused = []
        if self.hparams.sop_weight == 0:
            unused += [self.model.base_model.pooler, self.backbone.sentence_order_head(self.model)]
        if self.hparams.objective == "rtd":
            unused.append(self.backbone.mlm_head(self.model))
        shared = self.model.get_input_embeddings().weight
        for module in unused:
            for parameter in module.parameters():
                if parameter is not shared:
                    parameter.requires_grad_(False)

    def setup(self, stage: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None)
        if datamodule is not None and hasattr(datamodule, "check_model_limits"):
            datamodule.check_model_limits(self.config.vocab_size, self.config.max_position_embeddings)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Losses and accuracies for one batch of Google-schema features."""
        if self.hparams.objective == "rtd":
            return self._replaced_token_detection(batch)
        out = self._encode(self.model.base_model, batch["input_ids"], batch)
        mlm_head = self.backbone.mlm_head(self.model)
        logits = mlm_head(gather_positions(out.last_hidden_state, batch["masked_lm_positions"])).float()
        terms = masked_lm_terms(logits, batch)  # (B, P, V): the head runs only at masked positions
        return self._with_sentence_order(terms, terms["mlm_loss"], out, batch)

    def _replaced_token_detection(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        generated = self._encode(self.generator.albert, batch["input_ids"], batch).last_hidden_state
        generator_logits = self.generator.predictions(gather_positions(generated, batch["masked_lm_positions"]))
        terms = masked_lm_terms(generator_logits.float(), batch, prefix="gen_mlm")
        corrupted, replaced = corrupt_with_samples(batch, generator_logits)
        out = self._encode(self.model.base_model, corrupted, batch)
        terms.update(replaced_token_terms(self.rtd_head(out.last_hidden_state), replaced, batch["input_mask"]))
        loss = terms["gen_mlm_loss"] + self.hparams.rtd_weight * terms["rtd_loss"]
        return self._with_sentence_order(terms, loss, out, batch)

    @staticmethod
    def _encode(encoder: torch.nn.Module, input_ids: torch.Tensor, batch: dict[str, torch.Tensor]):
        return encoder(input_ids=input_ids, attention_mask=batch["input_mask"], token_type_ids=batch["segment_ids"])

    def _with_sentence_order(self, terms: dict, loss: torch.Tensor, out, batch: dict[str, torch.Tensor]) -> dict:
        if self.hparams.sop_weight > 0:
            sop_logits = self.backbone.sentence_order_head(self.model)(out.pooler_output).float()
            terms.update(sentence_order_terms(sop_logits, batch))
            loss = loss + self.hparams.sop_weight * terms["sop_loss"]
        return {"loss": loss, **terms}

    def training_gflop(self, batch: dict[str, torch.Tensor]) -> float:
        """Matmul GFLOPs of one training step on ``batch`` (for MFU: callbacks.UtilizationMonitor)."""
        batch_size, seq_len = batch["input_ids"].shape
        masked = batch["masked_lm_positions"].size(1)
        if self.hparams.objective == "mlm":
            return pretraining_gflop(self.config, batch_size, seq_len, masked)
        head = 3 * batch_size * seq_len * (self.config.hidden_size + 1) * self.config.hidden_size * 2 / 1e9
        return (pretraining_gflop(self.generator.config, batch_size, seq_len, masked)
                + pretraining_gflop(self.config, batch_size, seq_len, 0) + head)

    def _log_metrics(self, stage: str, metrics: dict[str, torch.Tensor], batch_size: int) -> None:
        on_step = stage == "train"
        for name, value in metrics.items():
            self.log(f"{stage}/{name}", value, on_step=on_step, on_epoch=not on_step, batch_size=batch_size,
                     prog_bar=name == "loss", sync_dist=not on_step)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> Optional[torch.Tensor]:
        metrics = self(batch)
        batch_size = batch["input_ids"].size(0)
        if self.hparams.max_nonfinite_steps and self._skip_nonfinite(metrics["loss"]):
            return None  # Lightning skips backward and the optimizer step
        self._log_metrics("train", metrics, batch_size)
        now = time.perf_counter()
        if self._last_batch_time is not None:
            self.log("train/sequences_per_s", batch_size / (now - self._last_batch_time), on_step=True)
        self._last_batch_time = now
        return metrics["loss"]

    def _skip_nonfinite(self, loss: torch.Tensor) -> bool:
        """True if any rank's loss is NaN/inf (all ranks then skip together, or DDP would hang)."""
        bad = self.trainer.strategy.reduce_boolean_decision(not bool(torch.isfinite(loss)), all=False)
        if not bad:
            self._nonfinite_in_a_row = 0
            return False
        self._nonfinite_in_a_row += 1
        self._skipped_steps += 1
        self.log("train/skipped_steps", float(self._skipped_steps), on_step=True)
        if self._nonfinite_in_a_row >= self.hparams.max_nonfinite_steps:
            raise TrainingStoppedError(
                f"the loss was NaN/inf in {self._nonfinite_in_a_row} steps in a row (up to step {self.global_step}): "
                f"lower model.learning_rate or raise model.warmup_steps, prefer bf16 to fp16, or check the data")
        return True

    def on_train_epoch_start(self) -> None:
        self._last_batch_time = None  # do not count validation or dataloader start-up as step time

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._log_metrics("val", self(batch), batch["input_ids"].size(0))

    def configure_callbacks(self) -> list[pl.Callback]:
        return [RngStateCheckpoint()]  # a resumed run draws what an uninterrupted one would

    def configure_optimizers(self) -> dict[str, Any]:
        hp = self.hparams
        optimizer_class = torch.optim.AdamW if hp.optimizer == "adamw" else Lamb
        optimizer = optimizer_class(decay_param_groups(self, hp.weight_decay), lr=hp.learning_rate,
                                    betas=tuple(hp.betas), eps=hp.eps)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_poly_decay(
            lambda: self.trainer.estimated_stepping_batches, warmup_steps=hp.warmup_steps, power=hp.poly_power))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

