"""Our checkpoints -> HuggingFace ``save_pretrained`` directories (config, safetensors, tokenizer, labels).

The modules keep transformers' weight layout under ``model.``, so export is a prefix strip: a
pretraining checkpoint becomes an ``AlbertForPreTraining`` (``BertForPreTraining``) directory, a
fine-tuned one an ``AlbertForTokenClassification`` (``BertForTokenClassification``) directory with
``id2label`` and ``tagger.json`` (its window length and overlap, and label scheme). The tokenizer stored
in the checkpoint is written as transformers expects it (``spiece.model`` for ``AlbertTokenizer``, ``vocab.txt`` for
``BertTokenizerFast``), so ``AutoTokenizer``/``AutoModel*`` load the directory offline. Such a
directory is also what ``--model.init_from`` takes back in.
"""
from __future__ import annotations

import os
import shutil
import tempfile

from transformers import AlbertTokenizer, BertTokenizerFast

from datamodules.bio import label_config_fields
from datamodules.common.checkpoints import load_checkpoint_file
from datamodules.common.errors import UserInputError
from datamodules.tokenization import stored_tokenizer
from lightning_modules.albert_init import load_albert_config
from lightning_modules.backbones import backbone
from lightning_modules.inference.tagger_backends import write_tagger_config


def _save_tokenizer(state: dict, output_dir: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        if state["file_name"].endswith(".model") or state["data"][:1] != b"[":
            with open(os.path.join(tmp, "spiece.model"), "wb") as f:
                f.write(state["data"])
            tokenizer = AlbertTokenizer.from_pretrained(tmp, do_lower_case=state["do_lower_case"], keep_accents=False)
        else:
            path = os.path.join(tmp, "vocab.txt")
            with open(path, "wb") as f:
                f.write(state["data"])
            tokenizer = BertTokenizerFast(vocab=path, do_lower_case=state["do_lower_case"])
        tokenizer.save_pretrained(output_dir)
        if os.path.isfile(os.path.join(tmp, "spiece.model")):
            shutil.copy(os.path.join(tmp, "spiece.model"), output_dir)  # also for sentencepiece users


def export_checkpoint(ckpt_path: str, output_dir: str, overwrite: bool = False) -> str:
    """Write ``output_dir`` (atomically: a temporary folder renamed at the end); return the model class name."""
    if os.path.exists(output_dir) and not overwrite:
        raise UserInputError(f"--output {output_dir} exists (pass --overwrite to replace it)")
    checkpoint = load_checkpoint_file(ckpt_path)
    hparams = checkpoint.get("hyper_parameters", {})
    if not isinstance(hparams.get("albert_config"), dict):
        raise UserInputError(f"--ckpt {ckpt_path}: not a checkpoint of scripts/pretrain.py or scripts/finetune.py")
    family = backbone(hparams.get("model_type") or "albert")  # older checkpoints: ALBERT
    config = load_albert_config(hparams["albert_config"], model_type=family.name)
    if hparams.get("label_names"):
        names = hparams["label_names"]
        config.update(label_config_fields(names))
        model = family.token_classification_class(config)
    else:
        model = family.pretraining_class(config)
    weights = {k[len("model."):]: v for k, v in checkpoint["state_dict"].items() if k.startswith("model.")}
    model.load_state_dict(weights)  # strict: the layouts are the same by construction

    parent = os.path.dirname(os.path.abspath(output_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".export-", dir=parent)
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        state = stored_tokenizer(checkpoint)
        if state is not None:
            _save_tokenizer(state, tmp)
        data_state = checkpoint.get("TokenClassificationDataModule") or {}
        if hparams.get("label_names") and "max_seq_length" in data_state:  # the windows predict.py must cut
            write_tagger_config(tmp, {"max_seq_length": data_state["max_seq_length"],
                                      "window_overlap": data_state["window_overlap"],
                                      "label_scheme": hparams.get("label_scheme", "all")})
        if os.path.exists(output_dir):
            shutil.rmtree(output_dir)
        os.replace(tmp, output_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return type(model).__name__
