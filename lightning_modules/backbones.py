"""The encoder families the modules train, ALBERT and BERT, as transformers classes.

Both modules take ``model_type: albert | bert`` and reach every family-specific class or head
through a ``Backbone``, so comparing ALBERT with BERT changes one line of config. The weights stay in
transformers' own layout either way (``save_pretrained`` works without renaming).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import (
    AlbertConfig,
    AlbertForPreTraining,
    AlbertForTokenClassification,
    AlbertModel,
    BertConfig,
    BertForPreTraining,
    BertForTokenClassification,
    BertModel,
    PretrainedConfig,
)

from datamodules.common.errors import UserInputError


@dataclass(frozen=True)
class Backbone:
    name: str
    config_class: type[PretrainedConfig]
    encoder_class: type  # the bare encoder, for loading encoder weights from any saved head
    pretraining_class: type
    token_classification_class: type
    classifier_dropout_field: str

    @property
    def prefix(self) -> str:
        """Where the encoder sits inside the task models (``albert.`` / ``bert.``)."""
        return self.encoder_class.base_model_prefix

    def mlm_head(self, model: torch.nn.Module) -> torch.nn.Module:
        return model.predictions if self.name == "albert" else model.cls.predictions

    def sentence_order_head(self, model: torch.nn.Module) -> torch.nn.Module:
        """SOP for ALBERT; BERT's two-way NSP head, trained here on the same sentence-order labels."""
        return model.sop_classifier if self.name == "albert" else model.cls.seq_relationship

    def foreign_fields(self) -> set[str]:
        """Config fields only the other families have (e.g. ALBERT's embedding_size for BERT)."""
        own = set(self.config_class().to_dict())
        return {f for other in BACKBONES.values() for f in other.config_class().to_dict() if f not in own}


BACKBONES = {
    "albert": Backbone("albert", AlbertConfig, AlbertModel, AlbertForPreTraining, AlbertForTokenClassification,
                       "classifier_dropout_prob"),
    "bert": Backbone("bert", BertConfig, BertModel, BertForPreTraining, BertForTokenClassification,
                     "classifier_dropout"),
}


def backbone(model_type: str) -> Backbone:
    if model_type not in BACKBONES:
        raise UserInputError(f"model.model_type {model_type!r}: expected one of {', '.join(BACKBONES)}")
    return BACKBONES[model_type]


def resolve_model_type(requested: str | None, stored: str | None, source: str | None) -> str:
    """The model type to build: the one stored with the initial weights, unless the user asked for another."""
    if requested is not None and stored is not None and requested != stored:
        raise UserInputError(f"init_from {source} holds a {stored} model but model.model_type is {requested} "
                             f"(drop model.model_type or set it to {stored})")
    return backbone(requested or stored or "albert").name
