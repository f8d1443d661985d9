"""A fine-tuned tagger, wherever it is stored, as one thing: labels, windows, tokenizer and a forward pass.

Three stores: our ``.ckpt`` (PyTorch), a HF ``save_pretrained`` directory (PyTorch through
transformers) and such a directory with ``model.onnx`` beside the weights (ONNX Runtime, written by
scripts/export_onnx.py). The forward pass of every backend maps padded ``input_ids`` /
``attention_mask`` batches to per-token logits as a numpy array, so the windows, the merge and the
decoding around it are the same code whatever runs the model.

A directory's ``tagger.json`` holds what transformers' config has no field for: the window length and
overlap the tagger was trained with, its label scheme (which sub-tokens carry labels, for decoding),
and which ONNX file (fp32 or int8) the directory serves.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from datamodules.common.checkpoints import load_checkpoint_file
from datamodules.common.errors import UserInputError
from datamodules.text.tokenization import Tokenizer
from datamodules.text.tokenizer_state import tokenizer_from_checkpoint, tokenizer_from_state

TAGGER_CONFIG = "tagger.json"
ONNX_FILE = "model.onnx"
BACKENDS = ("torch", "onnx")
DEFAULT_SETTINGS = {"max_seq_length": 128, "window_overlap": 32, "label_scheme": "all"}  # finetune.py's defaults
TRAINING_SETTINGS = tuple(DEFAULT_SETTINGS)  # the fields that come from training (an ONNX export keeps them)

Logits = Callable[[torch.Tensor, torch.Tensor], np.ndarray]


@dataclass
class Tagger:
    label_names: list[str]
    max_seq_length: int
    window_overlap: int
    label_scheme: str  # "all" or "first": how decoding reads words (datamodules/tagging/span_decoding.py)
    tokenizer: Tokenizer
    logits: Logits  # (input_ids, attention_mask) -> float32 logits [batch, sequence, labels]
    backend: str

    def probabilities(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> np.ndarray:
        logits = self.logits(input_ids, attention_mask)
        exp = np.exp(logits - logits.max(-1, keepdims=True))
        return exp / exp.sum(-1, keepdims=True)


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise UserInputError(f"--device {device}: expected auto, cpu, cuda or cuda:N") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise UserInputError(f"--device {device}: no CUDA GPU is available here (use --device cpu or auto)")
    return resolved


def read_tagger_config(directory: str) -> dict:
    path = os.path.join(directory, TAGGER_CONFIG)
    if not os.path.isfile(path):
        return dict(DEFAULT_SETTINGS)  # a directory made by plain transformers
    with open(path, encoding="utf-8") as f:
        return {**DEFAULT_SETTINGS, **json.load(f)}


def write_tagger_config(directory: str, fields: dict) -> None:
    with open(os.path.join(directory, TAGGER_CONFIG), "w", encoding="utf-8") as f:
        json.dump(fields, f, indent=2)


def torch_logits(model: torch.nn.Module, device: torch.device) -> Logits:
    """``model(input_ids, attention_mask)`` returns logits; they come back to the CPU as numpy."""
    model.to(device).eval()

    @torch.inference_mode()
    def logits(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> np.ndarray:
        return model(input_ids.to(device), attention_mask.to(device)).float().cpu().numpy()

    return logits


def onnx_logits(path: str) -> Logits:
    """An ONNX Runtime session on the CPU, with as many threads as torch uses (one knob for both)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    # Idle threads sleep rather than spin: spinning holds the cores that tokenization and torch need.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])

    def logits(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> np.ndarray:
        return session.run(None, {"input_ids": input_ids.numpy(), "attention_mask": attention_mask.numpy()})[0]

    return logits


class LogitsModel(torch.nn.Module):
    """A transformers token classifier as ``(input_ids, attention_mask) -> logits`` (also the ONNX graph)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits


def load_hf_token_classifier(directory: str) -> torch.nn.Module:
    from transformers import AutoModelForTokenClassification

    # float32 on any stored dtype: a float16 export would otherwise run in float16, slowly on a CPU
    return AutoModelForTokenClassification.from_pretrained(directory, local_files_only=True, dtype=torch.float32)


def _from_checkpoint(path: str, backend: str | None, device: str) -> Tagger:
    from lightning_modules.albert_token_classifier import AlbertTokenClassifierModule

    if backend == "onnx":
        raise UserInputError(f"--model {path}: a .ckpt runs on torch; for ONNX export it first "
                             f"(scripts/export_onnx.py --model {path} --output DIR) and give DIR")
    hparams = load_checkpoint_file(path).get(AlbertTokenClassifierModule.CHECKPOINT_HYPER_PARAMS_KEY, {})
    if not hparams.get("label_names"):  # read first: anything else is a one-line error, not a traceback
        raise UserInputError(f"--model {path}: not a fine-tuned checkpoint of scripts/finetune.py")
    module = AlbertTokenClassifierModule.load_from_checkpoint(path, map_location="cpu")
    encoding = module.text_encoding
    if encoding is None:
        raise UserInputError(f"--model {path}: holds no tokenizer (not a checkpoint of scripts/finetune.py)")
    return Tagger(module.hparams.label_names, encoding.max_seq_length, encoding.window_overlap,
                  module.hparams.label_scheme, tokenizer_from_state(encoding.tokenizer),
                  torch_logits(module, resolve_device(device)), "torch")


def _from_directory(directory: str, backend: str | None, device: str) -> Tagger:
    config_path = os.path.join(directory, "config.json")
    if not os.path.isfile(config_path):
        raise UserInputError(f"--model {directory}: no config.json (expected a directory of scripts/export_hf.py "
                             f"or scripts/export_onnx.py)")
    with open(config_path, encoding="utf-8") as f:
        id2label = json.load(f).get("id2label") or {}
    label_names = [id2label.get(str(i)) for i in range(len(id2label))]
    if not label_names or label_names[0] != "O":
        raise UserInputError(f"--model {directory}: config.json has no BIO labels with 'O' first (not a tagger)")
    tokenizer_state = tokenizer_from_checkpoint(directory)
    if tokenizer_state is None:
        raise UserInputError(f"--model {directory}: no spiece.model or vocab.txt (the tokenizer is missing)")
    settings = read_tagger_config(directory)
    onnx_path = os.path.join(directory, settings.get("onnx_file", ONNX_FILE))
    backend = backend or ("onnx" if os.path.isfile(onnx_path) else "torch")
    if backend == "onnx":
        if not os.path.isfile(onnx_path):
            raise UserInputError(f"--model {directory}: no {os.path.basename(onnx_path)} for --backend onnx "
                                 f"(make one with scripts/export_onnx.py)")
        resolved = resolve_device("cpu" if device == "auto" else device)
        if resolved.type != "cpu":
            raise UserInputError(f"--device {device}: the onnx backend runs on the CPU (use --backend torch)")
        logits = onnx_logits(onnx_path)
    else:
        resolved = resolve_device(device)
        logits = torch_logits(LogitsModel(load_hf_token_classifier(directory)), resolved)
    return Tagger(label_names, settings["max_seq_length"], settings["window_overlap"], settings["label_scheme"],
                  tokenizer_from_state(tokenizer_state), logits, backend)


def load_tagger(path: str, backend: str | None = None, device: str = "auto") -> Tagger:
    """The tagger at ``path`` (a .ckpt or a directory) on ``backend`` (default: what the store holds)."""
    if backend is not None and backend not in BACKENDS:
        raise UserInputError(f"--backend {backend}: expected one of {', '.join(BACKENDS)}")
    if os.path.isdir(path):
        return _from_directory(path, backend, device)
    return _from_checkpoint(path, backend, device)
