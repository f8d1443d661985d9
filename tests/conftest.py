"""Shared fixtures: the real data in ../shared/data, tiny model configs, small TFRecords made once."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ALBERT_SHARED_DATA", REPO.parent / "shared" / "data"))

TINY_ALBERT = dict(
    embedding_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
    max_position_embeddings=512, hidden_act="gelu_new", hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
)


TAGGER_LABELS = ["O", "B-Dish", "I-Dish"]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA} (set ALBERT_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def nyt_tfrecord(shared_data, tmp_path_factory) -> Path:
    """Our pretraining data for nyt_dish/reviews.txt with the flags Google's nyt_train.tfrecord used."""
    from datamodules.pretraining_data import create_pretraining_data
    from datamodules.pretraining_instances import MaskingConfig

    out = tmp_path_factory.mktemp("nyt") / "train.tfrecord"
    summary = create_pretraining_data(
        str(shared_data / "nyt_dish" / "reviews.txt"), str(out), str(shared_data / "nyt_dish" / "nyt_spm.model"),
        MaskingConfig(max_seq_length=128, max_predictions_per_seq=20, masked_lm_prob=0.15),
        do_lower_case=True, dupe_factor=5, num_workers=2, progress=False,
    )
    (shard,) = summary.output_files  # ~300 documents: one piece
    return Path(shard)


def save_tagger(module, path: Path, tokenizer_model: Path, max_seq_length: int = 32, window_overlap: int = 8) -> Path:
    """``module`` (a tagger) as fine-tuning saves it with this tokenizer (lower-casing) and these windows."""
    from datamodules.token_classification import TextEncoding
    from datamodules.tokenization import tokenizer_state
    from lightning_modules.checkpoints import save_module_checkpoint

    module.text_encoding = TextEncoding(tokenizer_state(str(tokenizer_model), True), max_seq_length, window_overlap)
    return Path(save_module_checkpoint(module, path))


def save_random_tagger(path: Path, tokenizer_model: Path, label_scheme: str = "all") -> Path:
    """A tiny tagger checkpoint whose classifier has large weights, so its tags differ from token to token."""
    import torch

    from lightning_modules.albert_token_classifier import AlbertTokenClassifierModule

    torch.manual_seed(0)
    module = AlbertTokenClassifierModule(label_names=TAGGER_LABELS, label_scheme=label_scheme,
                                         albert_config={**TINY_ALBERT, "vocab_size": 1600})
    torch.nn.init.normal_(module.model.classifier.weight, std=1.0)
    return save_tagger(module, path, tokenizer_model)


@pytest.fixture(scope="session")
def tagger_ckpt(shared_data, tmp_path_factory) -> Path:
    return save_random_tagger(tmp_path_factory.mktemp("tagger") / "tagger.ckpt",
                              shared_data / "google_tfrecord" / "reviews_spm.model")


def run_script(script: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run one of scripts/ as a user would, from the repository root."""
    return subprocess.run([sys.executable, str(REPO / "scripts" / script), *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """Non-zero exit, no traceback, and the last stderr line is an ``error:`` naming every fragment."""
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in last, f"{fragment!r} not in {last!r}"
