"""AlbertTokenClassifierModule: BIO tagging (dish names, or any entity types) on transformers' ALBERT (or BERT).

Weights live in a ``transformers.AlbertForTokenClassification`` (``BertForTokenClassification`` with
``model_type: bert``) as ``self.model``. The encoder can
start from our pretraining checkpoint, from a ``save_pretrained`` directory, or from random
weights (the "no pretraining" baseline). The model config is stored, resolved, in the
hyper-parameters, and the module saves how its data encodes texts (tokenizer, windows) under its own
checkpoint key, so a fine-tuned checkpoint is self-contained: ``load_from_checkpoint`` gives a tagger
that predicts.
"""
from __future__ import annotations

from dataclasses import asdict
from typing import Any, Optional, Union

import lightning.pytorch as pl
import torch
from torchmetrics.classification import MulticlassAccuracy

from datamodules.common.errors import UserInputError
from datamodules.tagging.bio import label_config_fields
from datamodules.tagging.datamodule import (
    IGNORE_INDEX,
    LABEL_SCHEMES,
    TextEncoding,
    TokenClassificationDataModule,
)
from lightning_modules.albert_init import TOKEN_CLASSIFICATION, build_model, store_resolved
from lightning_modules.optimization import NO_DECAY_MARKERS, warmup_poly_decay
from lightning_modules.rng_checkpoint import RngStateCheckpoint
from lightning_modules.span_metrics import SpanF1

TEXT_ENCODING_KEY = "text_encoding"  # the checkpoint entry this module writes
OLD_DATAMODULE_KEY = "TokenClassificationDataModule"  # where older checkpoints kept it: their DataModule's state


class AlbertTokenClassifierModule(pl.LightningModule):
    """Token classification with entity-level metrics.

    ``text_encoding`` (tokenizer and windows, for prediction) is learned from the DataModule in ``setup``, or
    read from a checkpoint; it is saved in checkpoints.

    Validation/test span F1 (``val/f1``, ``val/precision``, ``val/recall``, ``val/f1_<type>``) is measured on
    whole texts: windows merged and decoded exactly as scripts/predict.py does (span_metrics.SpanF1).

    Args:
        label_names: BIO labels, ``O`` first (linked from the DataModule).
        label_scheme: how the labels sit on sub-tokens, ``all`` or ``first`` (linked from the DataModule;
            decoding reads words accordingly, and it is saved for prediction).
        albert_config: model config (path, HF dir or dict); default: the one stored with ``init_from``.
        model_type: ``albert`` or ``bert``; default: the type stored with ``init_from``, else ``albert``.
        init_from: our pretraining ``.ckpt`` or a HF ``save_pretrained`` directory; None = random init.
        learning_rate: peak AdamW learning rate.
        warmup_ratio: share of the steps spent in linear warmup, then linear decay to 0.
        weight_decay: AdamW weight decay (not on LayerNorm/bias).
        layerwise_lr_decay: lr multiplier per level below the head: the shared encoder layer gets
            lr x d, the embeddings lr x d^2 (ALBERT shares one layer, so levels, not layers;
            BERT's layers are one level too); 1.0 = off.
        classifier_dropout: dropout before the token classifier.
        hidden_dropout: dropout inside the encoder while fine-tuning (default: the config's; ALBERT
            pretrains without it, fine-tuning on little data often gains from 0.1).
    """

    def __init__(
        self,
        label_names: Optional[list[str]] = None,
        label_scheme: str = "all",
        albert_config: Union[str, dict, None] = None,
        model_type: Optional[str] = None,
        init_from: Optional[str] = None,
        learning_rate: float = 1e-4,
        warmup_ratio: float = 0.1,
        weight_decay: float = 0.01,
        layerwise_lr_decay: float = 1.0,
        classifier_dropout: float = 0.1,
        hidden_dropout: Optional[float] = None,
    ):
        super().__init__()
        if not label_names or label_names[0] != "O":
            raise UserInputError("model.label_names must start with 'O' (it is linked from the data)")
        if label_scheme not in LABEL_SCHEMES:
            raise UserInputError(f"model.label_scheme must be one of {', '.join(LABEL_SCHEMES)}, got {label_scheme!r}")

        def configure(family, config) -> None:
            config.update(label_config_fields(label_names))
            setattr(config, family.classifier_dropout_field, classifier_dropout)
            if hidden_dropout is not None:
                config.hidden_dropout_prob = hidden_dropout

        self.backbone, self.config, self.model = build_model(TOKEN_CLASSIFICATION, albert_config, model_type,
                                                             init_from, configure=configure)
        self.save_hyperparameters()
        store_resolved(self.hparams, self.backbone, self.config)
        self.val_spans, self.test_spans = SpanF1(label_names, label_scheme), SpanF1(label_names, label_scheme)
        accuracy = dict(num_classes=len(label_names), ignore_index=IGNORE_INDEX, average="micro")
        self.val_accuracy, self.test_accuracy = MulticlassAccuracy(**accuracy), MulticlassAccuracy(**accuracy)
        self.text_encoding: Optional[TextEncoding] = None

    def setup(self, stage: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None)
        if not isinstance(datamodule, TokenClassificationDataModule):
            return
        vocab_size = datamodule.tokenizer.vocab_size
        if vocab_size > self.config.vocab_size:
            raise UserInputError(f"the tokenizer has {vocab_size} pieces but the model's vocab_size is "
                                 f"{self.config.vocab_size}: the tokenizer does not belong to this model")
        self.text_encoding = datamodule.text_encoding

    def configure_callbacks(self) -> list[pl.Callback]:
        return [RngStateCheckpoint()]  # dropout: a resumed run continues the same draws

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        if self.text_encoding is not None:
            checkpoint[TEXT_ENCODING_KEY] = asdict(self.text_encoding)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """Read ``text_encoding`` back, unless ``setup`` learned it from the data in hand (a Trainer restores
        a checkpoint after ``setup``: a resumed run keeps the windows it trains with)."""
        stored = checkpoint.get(TEXT_ENCODING_KEY) or checkpoint.get(OLD_DATAMODULE_KEY)
        if self.text_encoding is None and stored:
            self.text_encoding = TextEncoding(stored["tokenizer"], stored["max_seq_length"], stored["window_overlap"])

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits

    def _loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self(batch["input_ids"], batch["attention_mask"])
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1).float(), batch["labels"].flatten(),
                                                 ignore_index=IGNORE_INDEX)
        return loss, logits

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss, _ = self._loss(batch)
        self.log("train/loss", loss, prog_bar=True, batch_size=batch["input_ids"].size(0))
        return loss

    def _evaluate(self, stage: str, batch: dict[str, torch.Tensor], spans: SpanF1, accuracy) -> None:
        loss, logits = self._loss(batch)
        spans.update(logits.float().softmax(-1), batch["attention_mask"], batch["text_index"], batch["window_start"])
        accuracy.update(logits.argmax(-1).flatten(), batch["labels"].flatten())
        size = batch["input_ids"].size(0)
        self.log(f"{stage}/loss", loss, prog_bar=True, batch_size=size, sync_dist=True)
        self.log(f"{stage}/token_accuracy", accuracy, batch_size=size)

    def _log_spans(self, stage: str, spans: SpanF1) -> None:
        if not self.trainer.sanity_checking:  # two batches before training are no measurement
            loader = self.trainer.val_dataloaders if stage == "val" else self.trainer.test_dataloaders
            for name, value in spans.compute(loader.dataset.encoded).items():  # the texts of TokenWindows
                self.log(f"{stage}/{name}", value, prog_bar=name == "f1")
        spans.reset()

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._evaluate("val", batch, self.val_spans, self.val_accuracy)

    def on_validation_epoch_end(self) -> None:
        self._log_spans("val", self.val_spans)

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._evaluate("test", batch, self.test_spans, self.test_accuracy)

    def on_test_epoch_end(self) -> None:
        self._log_spans("test", self.test_spans)

    def predict_step(self, batch: dict[str, torch.Tensor], batch_idx: int = 0) -> torch.Tensor:
        return self(batch["input_ids"], batch["attention_mask"]).float().softmax(-1)

    def _param_groups(self) -> list[dict]:
        hp = self.hparams
        groups: dict[tuple[float, float], list] = {}
        for name, p in self.model.named_parameters():
            depth = 2 if ".embeddings." in name else 1 if name.startswith(self.backbone.prefix + ".") else 0
            lr = hp.learning_rate * hp.layerwise_lr_decay ** depth
            decay = 0.0 if any(m in name for m in NO_DECAY_MARKERS) else hp.weight_decay
            groups.setdefault((lr, decay), []).append(p)
        return [{"params": ps, "lr": lr, "weight_decay": wd} for (lr, wd), ps in groups.items()]

    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = torch.optim.AdamW(self._param_groups(), lr=self.hparams.learning_rate)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_poly_decay(
            lambda: self.trainer.estimated_stepping_batches, warmup_ratio=self.hparams.warmup_ratio))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

