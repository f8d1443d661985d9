"""Shared fixtures: data made once from the bundled data/sample/ (a tokenizer, TFRecords, a tagger), the real
data in ../shared/data (its tests are marked real_data), tiny model configs."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

if "PYTEST_XDIST_WORKER" in os.environ:
    # `make test` runs two pytest workers on two cores: each worker, and every process it starts, computes on
    # one thread, so two busy workers do not oversubscribe the cores.
    os.environ["OMP_NUM_THREADS"] = "1"

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ALBERT_SHARED_DATA", REPO.parent / "shared" / "data"))
SAMPLE = REPO / "data" / "sample"
SAMPLE_VOCAB_SIZE = 400  # as `make demo` builds from the sample
SAMPLE_RECORDS = 2000  # in sample_tfrecord: 40 batches of 50

TINY_ALBERT = dict(
    embedding_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
    max_position_embeddings=512, hidden_act="gelu_new", hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
)


TAGGER_LABELS = ["O", "B-Dish", "I-Dish"]


def seed_train_csv(folder: Path) -> Path:
    """The seed tutorial's dish_name_train.csv, byte for byte: two reviews, one dish each."""
    path = folder / "dish_name_train.csv"
    path.write_text('review,dish_name\n"I like the mala steamboat a lot!","mala steamboat"\n'
                    '"The chicken rice doesn\'t taste nice.","chicken rice"\n', encoding="utf-8")
    return path


def pytest_collection_modifyitems(config, items):
    """Tests that read ../shared/data are ``real_data``: ``-m "not real_data"`` runs the rest, anywhere."""
    for item in items:
        if "shared_data" in item.fixturenames:
            item.add_marker(pytest.mark.real_data)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA} (set ALBERT_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def sample_spm(tmp_path_factory) -> Path:
    """A lower-casing SentencePiece model of data/sample/reviews.txt with SAMPLE_VOCAB_SIZE pieces."""
    from datamodules.text.vocab_training import train_sentencepiece

    model, _ = train_sentencepiece([str(SAMPLE / "reviews.txt")], str(tmp_path_factory.mktemp("sample_spm") / "spm"),
                                   SAMPLE_VOCAB_SIZE)
    return Path(model)


@pytest.fixture(scope="session")
def sample_tfrecord(sample_spm, tmp_path_factory) -> Path:
    """SAMPLE_RECORDS pretraining records of the sample reviews (max_seq_length 128, 20 predictions; ~63 real
    tokens): the first of the ~3,200 that dupe_factor 2 makes, written with their index and lengths."""
    from datamodules.pretraining.data_creation import create_pretraining_data
    from datamodules.pretraining.instances import MaskingConfig
    from datamodules.pretraining.tfrecord_io import read_record, record_offsets, stored_real_lengths, write_tfrecord

    folder = tmp_path_factory.mktemp("sample_tfrecord")
    (shard,) = create_pretraining_data(
        str(SAMPLE / "reviews.txt"), str(folder / "all.tfrecord"), str(sample_spm),
        MaskingConfig(max_seq_length=128, max_predictions_per_seq=20), dupe_factor=2, progress=False).output_files
    offsets = record_offsets(shard)
    lengths = stored_real_lengths(shard, len(offsets))
    out = folder / "train.tfrecord"
    with open(shard, "rb") as f:
        write_tfrecord(str(out), (read_record(f, shard, int(o), int(n)) for o, n in offsets[:SAMPLE_RECORDS]),
                       lengths[:SAMPLE_RECORDS])
    return out


@pytest.fixture(scope="session")
def sample_tfrecord_512(sample_spm, tmp_path_factory) -> Path:
    """4 records of data/sample/unseen_reviews.txt (one document) at max_seq_length 512, like the seed's file."""
    from datamodules.pretraining.data_creation import create_pretraining_data
    from datamodules.pretraining.instances import MaskingConfig

    (shard,) = create_pretraining_data(
        str(SAMPLE / "unseen_reviews.txt"), str(tmp_path_factory.mktemp("sample_tfrecord_512") / "long.tfrecord"),
        str(sample_spm), MaskingConfig(max_seq_length=512), dupe_factor=4, progress=False).output_files
    return Path(shard)


@pytest.fixture(scope="session")
def nyt_tfrecord(shared_data, tmp_path_factory) -> Path:
    """Our pretraining data for nyt_dish/reviews.txt with the flags Google's nyt_train.tfrecord used."""
    from datamodules.pretraining.data_creation import create_pretraining_data
    from datamodules.pretraining.instances import MaskingConfig

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
    from datamodules.tagging.datamodule import TextEncoding
    from datamodules.text.tokenizer_state import tokenizer_state
    from lightning_modules.checkpoints import save_module_checkpoint

    module.text_encoding = TextEncoding(tokenizer_state(str(tokenizer_model), True), max_seq_length, window_overlap)
    return Path(save_module_checkpoint(module, path))


def save_random_tagger(path: Path, tokenizer_model: Path, label_scheme: str = "all") -> Path:
    """A tiny tagger checkpoint whose classifier has large weights, so its tags differ from token to token.

    Its 1600 embedding rows (more than the sample tokenizer's pieces) give int8 export weights enough to shrink.
    """
    import torch

    from lightning_modules.albert_token_classifier import AlbertTokenClassifierModule

    torch.manual_seed(0)
    module = AlbertTokenClassifierModule(label_names=TAGGER_LABELS, label_scheme=label_scheme,
                                         albert_config={**TINY_ALBERT, "vocab_size": 1600})
    torch.nn.init.normal_(module.model.classifier.weight, std=1.0)
    return save_tagger(module, path, tokenizer_model)


@pytest.fixture(scope="session")
def tagger_ckpt(sample_spm, tmp_path_factory) -> Path:
    return save_random_tagger(tmp_path_factory.mktemp("tagger") / "tagger.ckpt", sample_spm)


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
