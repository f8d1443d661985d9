"""The create_pretraining_data stage: compared with Google's own output, deterministic, safe outputs."""
import numpy as np
import pytest

from conftest import assert_one_line_error, run_script
from datamodules.pretraining_data import create_pretraining_data, shard_paths
from datamodules.pretraining_datamodule import PretrainingRecords
from datamodules.pretraining_instances import MaskingConfig


def corpus_statistics(path):
    records = PretrainingRecords([str(path)])
    examples = [records.example(i) for i in range(len(records))]
    tokens = sum(int(e["input_mask"].sum()) for e in examples)
    masked = sum(float(e["masked_lm_weights"].sum()) for e in examples)
    sop = np.mean([int(e["next_sentence_labels"][0]) for e in examples])
    return len(examples), masked / tokens, sop, tokens / len(examples)


def test_statistics_match_googles_nyt_file(shared_data, nyt_tfrecord):
    """Same corpus, vocab and flags as google_tfrecord/nyt_train.tfrecord (see its README)."""
    ours = corpus_statistics(nyt_tfrecord)
    google = corpus_statistics(shared_data / "google_tfrecord" / "nyt_train.tfrecord")
    assert abs(ours[0] / google[0] - 1) < 0.03, (ours, google)  # instances
    assert abs(ours[1] - google[1]) < 0.005, (ours, google)  # masked share of real tokens
    assert abs(ours[2] - google[2]) < 0.03, (ours, google)  # SOP label-1 share
    assert abs(ours[3] / google[3] - 1) < 0.03, (ours, google)  # real tokens per instance


def test_output_does_not_depend_on_workers_and_shards_partition_it(shared_data, tmp_path):
    corpus = str(shared_data / "restaurant_reviews" / "reviews.txt")
    spm = str(shared_data / "google_tfrecord" / "reviews_spm.model")
    cfg = MaskingConfig(max_seq_length=64, max_predictions_per_seq=10)
    one = create_pretraining_data(corpus, str(tmp_path / "a.tfrecord"), spm, cfg, dupe_factor=2, progress=False)
    two = create_pretraining_data(corpus, str(tmp_path / "b.tfrecord"), spm, cfg, dupe_factor=2, num_workers=2,
                                  num_shards=3, progress=False)
    assert one.instances == two.instances > 400 and one.documents == 1  # no blank lines: one document
    assert two.output_files == tuple(shard_paths(str(tmp_path / "b.tfrecord"), 3))
    single = (tmp_path / "a.tfrecord").read_bytes()
    sharded = [open(f, "rb").read() for f in two.output_files]
    assert sum(map(len, sharded)) == len(single)
    a = PretrainingRecords([str(tmp_path / "a.tfrecord")])
    b = PretrainingRecords(list(two.output_files))
    key = lambda r, i: r.example(i)["input_ids"].tobytes() + r.example(i)["masked_lm_ids"].tobytes()  # noqa: E731
    assert sorted(key(a, i) for i in range(len(a))) == sorted(key(b, i) for i in range(len(b)))


def test_cli_writes_shards_with_index_and_summary(shared_data, tmp_path):
    out = tmp_path / "data" / "train.tfrecord"
    result = run_script("create_pretraining_data.py", "--input_file", str(shared_data / "seed_toy" / "restaurant_review.txt"),
                        "--output_file", str(out), "--vocab_file", str(shared_data / "seed_toy" / "vocab.txt"),
                        "--nodo_lower_case", "--max_seq_length", "64", "--dupe_factor", "4", "--num_shards", "2",
                        "--quiet")
    assert result.returncode == 0, result.stderr
    assert "wrote 4 instances from 1 documents" in result.stdout
    for shard in ("train-00000-of-00002.tfrecord", "train-00001-of-00002.tfrecord"):
        assert (tmp_path / "data" / shard).is_file() and (tmp_path / "data" / f"{shard}.index").is_file()
    # An existing output is refused, and left as it was.
    before = (tmp_path / "data" / "train-00000-of-00002.tfrecord").read_bytes()
    again = run_script("create_pretraining_data.py", "--input_file", str(shared_data / "seed_toy" / "restaurant_review.txt"),
                       "--output_file", str(out), "--vocab_file", str(shared_data / "seed_toy" / "vocab.txt"),
                       "--num_shards", "2")
    assert_one_line_error(again, "train-00000-of-00002.tfrecord exists", "--overwrite")
    assert (tmp_path / "data" / "train-00000-of-00002.tfrecord").read_bytes() == before


@pytest.mark.parametrize("case", ["missing", "glob", "empty", "no_vocab", "bad_flag"])
def test_cli_bad_input(shared_data, tmp_path, case):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    spm = str(shared_data / "nyt_dish" / "nyt_spm.model")
    args, fragments = {
        "missing": (["--input_file", str(tmp_path / "nope.txt"), "--spm_model_file", spm], ["nope.txt", "matches no file"]),
        "glob": (["--input_file", str(tmp_path / "*.corpus"), "--spm_model_file", spm], ["*.corpus", "matches no file"]),
        "empty": (["--input_file", str(empty), "--spm_model_file", spm], ["empty.txt", "empty corpus"]),
        "no_vocab": (["--input_file", str(empty), "--spm_model_file", str(tmp_path / "x.model")],
                     ["x.model", "does not exist"]),
        "bad_flag": (["--input_file", str(empty), "--spm_model_file", spm, "--max_seq_length", "3"],
                     ["max_seq_length must be >= 5"]),
    }[case]
    result = run_script("create_pretraining_data.py", *args, "--output_file", str(tmp_path / "out.tfrecord"))
    assert_one_line_error(result, *fragments)
    assert not list(tmp_path.glob("out*"))
