"""Our checkpoints -> HuggingFace ``save_pretrained`` directories (config, safetensors, tokenizer, labels).

The modules hold a transformers model as ``model``, so export loads the checkpoint's module
(``load_from_checkpoint``) and saves that: a pretraining checkpoint becomes an ``AlbertForPreTraining``
(``BertForPreTraining``) directory, a fine-tuned one an ``AlbertForTokenClassification``
(``BertForTokenClassification``) directory with ``id2label`` and ``tagger.json`` (the module's window
length and overlap, and label scheme). The tokenizer stored
in the checkpoint is written as transformers expects it (``spiece.model`` for ``AlbertTokenizer``, ``vocab.txt`` for
``BertTokenizerFast``), so ``AutoTokenizer``/``AutoModel*`` load the directory offline. Such a
directory is also what ``--model.init_from`` takes back in.
"""
from __future__ import annotations

import os
import shutil
import tempfile

import torch
from sentencepiece import sentencepiece_model_pb2
from transformers import AlbertTokenizer, BertTokenizerFast

from datamodules.common.checkpoints import load_checkpoint_file
from datamodules.common.errors import UserInputError
from datamodules.common.files import publish_directory
from datamodules.text.tokenizer_state import stored_tokenizer
from lightning_modules.albert_pretrain import AlbertPretrainModule
from lightning_modules.albert_token_classifier import AlbertTokenClassifierModule
from lightning_modules.inference.tagger_backends import write_tagger_config


def albert_tokenizer(spm_model: bytes, do_lower_case: bool) -> AlbertTokenizer:
    """transformers' ALBERT tokenizer giving the pieces SentencePiece gives, built from the model's pieces and scores.

    ``AlbertTokenizer.from_pretrained`` on a ``.model`` turns its user-defined pieces (ALBERT's ``( ) " - .``
    and others) into added tokens: the text is split at them and each chunk gets its own "▁" prefix, so
    "3.5" became ``▁3 . ▁5`` and a lone "." ``.`` instead of ``▁ .`` (half of the Yelp reviews tokenized
    differently from training). As ordinary pieces of the unigram model they are matched as SentencePiece does.
    ``_spm_precompiled_charsmap`` (SentencePiece's normalization table) is the constructor's own, underscored
    argument: tests/test_hf_export.py fails if it stops giving our ids.
    """
    proto = sentencepiece_model_pb2.ModelProto.FromString(spm_model)
    return AlbertTokenizer(vocab=[(p.piece, p.score) for p in proto.pieces], do_lower_case=do_lower_case,
                           keep_accents=False,
                           _spm_precompiled_charsmap=proto.normalizer_spec.precompiled_charsmap or None)


def _save_tokenizer(state: dict, output_dir: str) -> None:
    sentencepiece = state["file_name"].endswith(".model") or state["data"][:1] != b"["
    if sentencepiece:
        tokenizer = albert_tokenizer(state["data"], state["do_lower_case"])
    else:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "vocab.txt")
            with open(path, "wb") as f:
                f.write(state["data"])
            tokenizer = BertTokenizerFast(vocab=path, do_lower_case=state["do_lower_case"])
    tokenizer.save_pretrained(output_dir)
    # The file itself too (transformers writes tokenizer.json only): predict.py and sentencepiece users read it.
    with open(os.path.join(output_dir, "spiece.model" if sentencepiece else "vocab.txt"), "wb") as f:
        f.write(state["data"])


def export_checkpoint(ckpt_path: str, output_dir: str, overwrite: bool = False,
                      dtype: torch.dtype = torch.float32) -> str:
    """Write ``output_dir`` (atomically: a temporary folder renamed at the end); return what it holds, in words.

    ``dtype`` is how the weights are stored: ``torch.float16`` halves the directory (for shipping an encoder);
    ``init_from`` and predict.py read any of them back as float32.
    """
    if os.path.exists(output_dir) and not overwrite:
        raise UserInputError(f"--output {output_dir} exists (pass --overwrite to replace it)")
    checkpoint = load_checkpoint_file(ckpt_path)
    hparams = checkpoint.get("hyper_parameters", {})
    if not isinstance(hparams.get("albert_config"), dict):
        raise UserInputError(f"--ckpt {ckpt_path}: not a checkpoint of scripts/pretrain.py or scripts/finetune.py")
    module_class = AlbertTokenClassifierModule if hparams.get("label_names") else AlbertPretrainModule
    module = module_class.load_from_checkpoint(ckpt_path, map_location="cpu")
    encoding = getattr(module, "text_encoding", None)

    parent = os.path.dirname(os.path.abspath(output_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".export-", dir=parent)
    try:
        module.model.to(dtype).save_pretrained(tmp, safe_serialization=True)
        contents = [type(module.model).__name__, f"{str(dtype).removeprefix('torch.')} safetensors"]
        state = stored_tokenizer(checkpoint)
        if state is not None:
            _save_tokenizer(state, tmp)
            contents.append("tokenizer")
        if encoding is not None:  # the windows predict.py must cut, and how it decodes
            write_tagger_config(tmp, {"max_seq_length": encoding.max_seq_length,
                                      "window_overlap": encoding.window_overlap,
                                      "label_scheme": module.hparams.label_scheme})
        publish_directory(tmp, output_dir)  # readable as the umask allows, not mkdtemp's 0700
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return ", ".join(contents)
