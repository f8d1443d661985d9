"""Pieces bounded by bytes of text as well as by documents: long documents make several small pieces, a
lone huge one is a piece alone, the output stays the same whatever the workers or tasks, the manifest
records the limit, and shards made before it existed read as no limit."""
import json
import random
import subprocess
import sys

import pytest

from conftest import REPO, SAMPLE, assert_one_line_error, run_script
from datamodules.common.errors import UserInputError
from datamodules.pretraining.corpus_pieces import corpus_pieces, document_bytes
from datamodules.pretraining.data_creation import create_pretraining_data, write_shuffled_shard
from datamodules.pretraining.datamodule import PretrainingRecords
from datamodules.pretraining.instances import MaskingConfig
from datamodules.pretraining.tfrecord_io import read_record, record_offsets, stored_real_lengths
from datamodules.text.corpus_formats import Corpus, CorpusFile

LIMIT = 6000  # bytes of text per piece in these tests
HUGE = 3  # the document 2.5x LIMIT


@pytest.fixture(scope="module")
def long_corpus(tmp_path_factory):
    """``sentences`` format: 12 documents of the sample's sentences, 1.5-3.5 KB each but one of 15 KB."""
    sentences = [line.strip() for line in (SAMPLE / "reviews.txt").read_text().splitlines() if line.strip()]
    rng, documents, at = random.Random(0), [], 0
    for d in range(12):
        target, document = (2.5 * LIMIT if d == HUGE else rng.randint(1500, 3500)), []
        while document_bytes(document) < target:
            document.append(sentences[at % len(sentences)])
            at += 1
        documents.append(document)
    path = tmp_path_factory.mktemp("long") / "chapters.txt"
    path.write_text("".join("\n".join(document) + "\n\n" for document in documents))
    return path


def pieces_of(path, documents_per_piece=5000, max_piece_bytes=LIMIT):
    corpus = Corpus([CorpusFile(str(path), "sentences")])
    return list(corpus_pieces(corpus, documents_per_piece, max_piece_bytes))


def test_long_documents_make_pieces_bounded_by_bytes_and_a_huge_one_is_alone(long_corpus):
    pieces = pieces_of(long_corpus)
    sizes = [[document_bytes(d) for d in piece.documents] for piece in pieces]
    assert [piece.index for piece in pieces] == list(range(len(pieces))) and len(pieces) >= 5
    assert sum(map(len, sizes)) == 12  # every document, once, in order
    assert [document_bytes(d) for piece in pieces for d in piece.documents] == sum(sizes, [])
    huge = next(i for i, s in enumerate(sizes) if max(s) > LIMIT)
    assert len(sizes[huge]) == 1 and sizes[huge][0] > 2 * LIMIT
    for i, s in enumerate(sizes):
        assert i == huge or sum(s) <= LIMIT, sizes
        if i + 1 < len(sizes):  # a piece ends only where the next document would pass the limit
            assert sum(s) + sizes[i + 1][0] > LIMIT, sizes
    # whichever limit comes first: two documents a piece here, and no byte limit cuts by documents alone
    assert [len(p.documents) for p in pieces_of(long_corpus, documents_per_piece=2, max_piece_bytes=10**9)] == [2] * 6
    assert len(pieces_of(long_corpus, max_piece_bytes=None)) == 1


def test_document_bytes_are_utf8_bytes_of_the_text():
    assert document_bytes("crème brûlée") == len("crème brûlée") + 3 == 15  # è, û, é: 2 bytes each
    assert document_bytes(["ab", "çd"]) == 5


def make(long_corpus, spm, out, **kwargs):
    """The instance settings of the CLI calls below (seq 64, 10 predictions, dupe 2), pieces of LIMIT bytes."""
    return create_pretraining_data(str(long_corpus), str(out), str(spm), MaskingConfig(max_seq_length=64,
                                   max_predictions_per_seq=10), dupe_factor=2, progress=False,
                                   **{"max_piece_bytes": LIMIT, **kwargs})


def shard_bytes(directory):
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if ".tfrecord" in p.name}


def test_byte_bounded_shards_are_the_same_whatever_the_workers_or_tasks(long_corpus, sample_spm, tmp_path):
    one = make(long_corpus, sample_spm, tmp_path / "one" / "train.tfrecord")
    assert len(one.output_files) == len(pieces_of(long_corpus)) and one.documents == 12
    make(long_corpus, sample_spm, tmp_path / "two" / "train.tfrecord", num_workers=2)
    for t in range(3):
        make(long_corpus, sample_spm, tmp_path / "tasks" / "train.tfrecord", num_workers=2, num_tasks=3, task_index=t)
    assert shard_bytes(tmp_path / "one") == shard_bytes(tmp_path / "two") == shard_bytes(tmp_path / "tasks")
    assert not list(tmp_path.glob("*/*.tmp-*"))  # the instances' temporary files are gone
    settings = json.loads((tmp_path / "one" / "train.tfrecord.settings.json").read_text())
    assert settings["max_piece_bytes"] == LIMIT
    assert len(PretrainingRecords(one.output_files)) == one.instances  # reading checks every record's CRCs


def test_instances_are_written_in_the_order_rng_shuffle_gives_their_list(tmp_path):
    records = [(f"record {i}".encode() * (i % 7 + 1), i % 60 + 1) for i in range(500)]
    expected = list(records)
    random.Random(3).shuffle(expected)
    path = tmp_path / "s.tfrecord"
    assert write_shuffled_shard(str(path), iter(records), random.Random(3)) == 500
    offsets = record_offsets(str(path))
    with open(path, "rb") as f:
        written = [read_record(f, str(path), int(o), int(n)) for o, n in offsets]
    assert written == [data for data, _ in expected]
    assert stored_real_lengths(str(path), 500).tolist() == [length for _, length in expected]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.tfrecord", "s.tfrecord.index", "s.tfrecord.lengths"]
    assert write_shuffled_shard(str(tmp_path / "none.tfrecord"), iter([]), random.Random(3)) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.tfrecord", "s.tfrecord.index", "s.tfrecord.lengths"]


def test_shards_made_before_the_limit_existed_resume_with_no_limit_and_stop_with_one(long_corpus, sample_spm,
                                                                                      tmp_path):
    out = tmp_path / "train.tfrecord"
    old = make(long_corpus, sample_spm, out, max_piece_bytes=None)
    manifest = out.with_name("train.tfrecord.settings.json")
    settings = json.loads(manifest.read_text())
    assert settings.pop("max_piece_bytes") is None
    manifest.write_text(json.dumps(settings))  # as a run before the setting wrote it
    before = shard_bytes(tmp_path)
    args = ["--input_file", str(long_corpus), "--output_file", str(out), "--spm_model_file", str(sample_spm),
            "--max_seq_length", "64", "--max_predictions_per_seq", "10", "--dupe_factor", "2", "--quiet"]
    resumed = run_script("create_pretraining_data.py", *args, "--max_piece_bytes", "none")
    assert resumed.returncode == 0 and f"{len(old.output_files)} complete file(s) skipped" in resumed.stdout, \
        resumed.stderr
    limited = run_script("create_pretraining_data.py", *args)  # the default limit: other pieces
    assert_one_line_error(limited, str(out), "max_piece_bytes null, this run has 8000000", "--overwrite")
    assert shard_bytes(tmp_path) == before


@pytest.mark.parametrize("value", [0, -5])
def test_a_bad_byte_limit_is_a_one_line_error(long_corpus, sample_spm, tmp_path, value):
    with pytest.raises(UserInputError, match=f"max_piece_bytes must be >= 1 .*got {value}"):
        make(long_corpus, sample_spm, tmp_path / "train.tfrecord", max_piece_bytes=value)
    result = run_script("create_pretraining_data.py", "--input_file", str(long_corpus), "--spm_model_file",
                        str(sample_spm), "--output_file", str(tmp_path / "out.tfrecord"), f"--max_piece_bytes={value}")
    assert_one_line_error(result, f"max_piece_bytes must be >= 1 (bytes of text per piece), got {value}")
    assert not list(tmp_path.glob("out*"))


def test_data_creation_runs_without_torch():
    # torch (~200 MB a process, pulled in by the tfrecord package) would sit in the script and in every worker.
    code = ("import sys, runpy; sys.argv = ['create_pretraining_data.py', '--help']\n"
            "try:\n    runpy.run_path('scripts/create_pretraining_data.py', run_name='__main__')\n"
            "except SystemExit:\n    pass\nassert 'torch' not in sys.modules, 'torch imported'\n"
            "import datamodules.pretraining.data_creation\nassert 'torch' not in sys.modules, 'torch imported'")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-1000:]
