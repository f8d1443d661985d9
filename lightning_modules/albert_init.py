"""Building an ALBERT (or BERT): its config (from a file, a dict or a checkpoint) and its initial weights.

``build_model`` is the one way both LightningModules build theirs, so both accept the same sources:
a Google/HF ``albert_config.json``, a dict in YAML, our ``.ckpt`` files and ``save_pretrained`` directories.
"""
from __future__ import annotations

import json
import os
from typing import Callable, MutableMapping, Optional, Union

import torch
import yaml
from transformers import PretrainedConfig

from datamodules.common.errors import UserInputError
from lightning_modules.backbones import BACKBONES, Backbone, backbone, resolve_model_type

PRETRAINING, TOKEN_CLASSIFICATION = "pretraining", "token_classification"


def build_model(task: str, albert_config: Union[str, dict, None], model_type: Optional[str], init_from: Optional[str],
                vocab_size: Optional[int] = None,
                configure: Callable[[Backbone, PretrainedConfig], None] = lambda family, config: None,
                ) -> tuple[Backbone, PretrainedConfig, torch.nn.Module]:
    """The family, config and transformers model for ``task`` (``pretraining`` or ``token_classification``).

    Reads ``init_from``'s weights and stored config (a task head starts from its encoder only), resolves
    the family, loads the config (``albert_config`` wins over the stored one), lets ``configure`` set the
    task's fields (labels, dropout), builds the model and loads the matching weights.
    """
    head_on_encoder = task == TOKEN_CLASSIFICATION
    weights, stored_config, stored_type = (read_init_weights(init_from, encoder_only=head_on_encoder) if init_from
                                           else ({}, None, None))
    family = backbone(resolve_model_type(model_type, stored_type, init_from))
    if albert_config is None and stored_config is None:
        raise UserInputError("model.albert_config is required when model.init_from is not given "
                             "(or carries no config)")
    config = load_albert_config(albert_config if albert_config is not None else stored_config, vocab_size,
                                family.name)
    configure(family, config)
    model = (family.token_classification_class if head_on_encoder else family.pretraining_class)(config)
    if weights:
        load_matching_weights(model.base_model if head_on_encoder else model, weights, init_from)
    return family, config, model


def store_resolved(hparams: MutableMapping, family: Backbone, config: PretrainedConfig) -> None:
    """Replace what the model was built from by what it is, so a checkpoint rebuilds it on its own (the
    weights are in the checkpoint: ``init_from`` is not read again, and may since have been deleted)."""
    hparams["model_type"] = family.name
    hparams["albert_config"] = config_fields(config)
    hparams["init_from"] = None
    if "vocab_size" in hparams:
        hparams["vocab_size"] = None  # in albert_config


def load_albert_config(albert_config: Union[str, dict, None], vocab_size: Optional[int] = None,
                       model_type: str = "albert") -> PretrainedConfig:
    """The model_type's config from a Google/HF ``albert_config.json`` path, a dict of fields, or a HF model dir.

    Fields only another family has are dropped (ALBERT's ``embedding_size`` for BERT), so one dict of
    sizes serves both sides of a comparison.
    """
    if isinstance(albert_config, str):
        path = os.path.join(albert_config, "config.json") if os.path.isdir(albert_config) else albert_config
        if not os.path.isfile(path):
            raise UserInputError(f"albert_config {albert_config} does not exist (expected an albert_config.json)")
        try:
            with open(path, encoding="utf-8") as f:
                fields = json.load(f)
        except json.JSONDecodeError as e:
            raise UserInputError(f"albert_config {path}: not valid JSON ({e})") from None
    elif isinstance(albert_config, dict):
        # Command-line overrides (--model.albert_config.hidden_size 128) arrive as strings.
        fields = {k: yaml.safe_load(v) if isinstance(v, str) else v for k, v in albert_config.items()}
    else:
        raise UserInputError("model.albert_config is required: a path to albert_config.json or a dict of its fields")
    if vocab_size is not None:
        fields["vocab_size"] = vocab_size
    # Google's configs say "gelu" but mean the tanh approximation (HF's "gelu_new").
    if fields.get("hidden_act") == "gelu" and "model_type" not in fields:
        fields["hidden_act"] = "gelu_new"
    family = backbone(model_type)
    described = fields.pop("model_type", model_type)
    if described != model_type:
        raise UserInputError(f"albert_config {albert_config} describes a {described} model, not {model_type}")
    foreign = family.foreign_fields()
    config = family.config_class(**{k: v for k, v in fields.items() if k not in foreign})
    if config.hidden_act == "gelu_new":  # the same function as one fused torch kernel: ~10% faster steps
        config.hidden_act = "gelu_pytorch_tanh"
    return config


def config_fields(config: PretrainedConfig) -> dict:
    """A config's architecture fields, for storing in checkpoints (labels are stored separately)."""
    fields = config.to_dict()
    for key in ("id2label", "label2id", "num_labels", "_name_or_path", "transformers_version", "architectures",
                "dtype", "torch_dtype", "model_type"):
        fields.pop(key, None)
    return fields


def read_init_weights(init_from: str, encoder_only: bool) -> tuple[dict[str, torch.Tensor], Optional[dict], str]:
    """Initial weights, the config fields stored with them (or None), and their model type.

    ``encoder_only``: the encoder's tensors (for a task head on top), else the pretraining model's.
    From our ``.ckpt``: ``state_dict`` tensors (``model.`` prefix removed) and the config in its
    hyper-parameters. From a ``save_pretrained`` directory: the weights of its ``config.json``'s type.
    """
    if os.path.isdir(init_from):
        config_path = os.path.join(init_from, "config.json")
        if not os.path.isfile(config_path):
            raise UserInputError(f"init_from {init_from}: no config.json (expected a save_pretrained directory)")
        with open(config_path, encoding="utf-8") as f:
            model_type = json.load(f).get("model_type")
        if model_type not in BACKBONES:
            raise UserInputError(f"init_from {init_from}: a {model_type} model; expected one of {', '.join(BACKBONES)}")
        family = BACKBONES[model_type]
        hf_class = family.encoder_class if encoder_only else family.pretraining_class
        model = hf_class.from_pretrained(init_from, local_files_only=True, dtype=torch.float32)  # also a float16 export
        return model.state_dict(), config_fields(model.config), model_type
    if not os.path.isfile(init_from):
        raise UserInputError(f"init_from {init_from} does not exist (expected a .ckpt file or a HF model directory)")
    checkpoint = torch.load(init_from, map_location="cpu", weights_only=False)
    hparams = checkpoint.get("hyper_parameters", {})
    model_type = hparams.get("model_type") or "albert"  # checkpoints from before BERT support are ALBERT
    prefix = f"model.{backbone(model_type).prefix}." if encoder_only else "model."
    weights = {k[len(prefix):]: v for k, v in checkpoint.get("state_dict", {}).items() if k.startswith(prefix)}
    if not weights:
        raise UserInputError(f"init_from {init_from}: no {prefix}* weights in this checkpoint")
    config = hparams.get("albert_config")
    return weights, config if isinstance(config, dict) else None, model_type


def load_matching_weights(module: torch.nn.Module, weights: dict[str, torch.Tensor], source: str) -> None:
    """Load every tensor ``module`` has from ``weights``; a shape mismatch or a missing tensor is an error."""
    target = module.state_dict()
    for name, tensor in target.items():
        if name not in weights:
            raise UserInputError(f"init_from {source}: lacks the weight {name} (and maybe more)")
        if weights[name].shape != tensor.shape:
            raise UserInputError(
                f"init_from {source}: {name} has shape {tuple(weights[name].shape)} but the model expects "
                f"{tuple(tensor.shape)} (vocabulary or hidden sizes differ from the model config)")
    module.load_state_dict({name: weights[name] for name in target})
