"""The create_pretraining_data stage: compared with Google's own output, deterministic, safe outputs,
streamed in pieces and split over tasks."""
import json
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import REPO, SAMPLE, assert_one_line_error, run_script
from datamodules.common.errors import UserInputError
from datamodules.pretraining.corpus_pieces import piece_shard_path, slurm_array_task
from datamodules.pretraining.data_creation import create_pretraining_data
from datamodules.pretraining.datamodule import PretrainingRecords
from datamodules.pretraining.instances import MaskingConfig


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


SMALL_CFG = MaskingConfig(max_seq_length=64, max_predictions_per_seq=10)


def make_reviews_data(spm, out, **kwargs):
    """The sample's 1500 reviews in pieces of 225 documents: 7 shards."""
    return create_pretraining_data(str(SAMPLE / "reviews.txt"), str(out), str(spm), SMALL_CFG,
                                   dupe_factor=1, documents_per_piece=225, progress=False, **kwargs)


def shard_bytes(directory):
    """Shard name -> (data, index, lengths) bytes of every complete shard under ``directory``."""
    return {p.name: (p.read_bytes(), p.with_name(p.name + ".index").read_bytes(),
                     p.with_name(p.name + ".lengths").read_bytes()) for p in sorted(directory.glob("*.tfrecord"))}


def manifest(directory):
    return (directory / "train.tfrecord.settings.json").read_bytes()


def record_keys(paths):
    records = PretrainingRecords([str(p) for p in paths])  # reading checks both CRCs of every record
    return [records.example(i)["input_ids"].tobytes() + records.example(i)["masked_lm_ids"].tobytes()
            for i in range(len(records))]


def test_one_shard_per_piece_whatever_the_workers(sample_spm, tmp_path):
    one = make_reviews_data(sample_spm, tmp_path / "one" / "train.tfrecord")
    two = make_reviews_data(sample_spm, tmp_path / "two" / "train.tfrecord", num_workers=2)
    assert one.output_files == tuple(piece_shard_path(str(tmp_path / "one" / "train.tfrecord"), i) for i in range(7))
    assert one.documents == two.documents == 1500 and one.instances == two.instances > 1500
    assert shard_bytes(tmp_path / "one") == shard_bytes(tmp_path / "two")
    assert manifest(tmp_path / "one") == manifest(tmp_path / "two")  # num_workers is not a setting of the shards
    assert len(set(record_keys(tmp_path.glob("one/*.tfrecord")))) == one.instances  # no record twice


def test_tasks_together_write_what_one_run_writes(sample_spm, tmp_path):
    whole = make_reviews_data(sample_spm, tmp_path / "whole" / "train.tfrecord")
    parts = []
    for t in range(3):  # each task checks the manifest the ones before wrote, and writes the same bytes
        parts.append(make_reviews_data(sample_spm, tmp_path / "tasks" / "train.tfrecord", num_tasks=3, task_index=t))
        assert manifest(tmp_path / "tasks") == manifest(tmp_path / "whole")
    assert [len(p.output_files) for p in parts] == [3, 2, 2]  # pieces 0 3 6 | 1 4 | 2 5
    assert sum(p.instances for p in parts) == whole.instances
    assert shard_bytes(tmp_path / "tasks") == shard_bytes(tmp_path / "whole")
    assert sorted(record_keys((tmp_path / "tasks").glob("*.tfrecord"))) == \
        sorted(record_keys((tmp_path / "whole").glob("*.tfrecord")))


def test_killed_task_rerun_completes_its_shards_without_duplicates(sample_spm, tmp_path):
    reference = make_reviews_data(sample_spm, tmp_path / "ref" / "train.tfrecord")
    out = tmp_path / "run" / "train.tfrecord"
    out.parent.mkdir()
    args = ["--input_file", str(SAMPLE / "reviews.txt"), "--output_file", str(out),
            "--spm_model_file", str(sample_spm), "--max_seq_length", "64",
            "--max_predictions_per_seq", "10", "--dupe_factor", "1", "--documents_per_piece", "225", "--quiet"]
    proc = subprocess.Popen([sys.executable, str(REPO / "scripts" / "create_pretraining_data.py"), *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not list(out.parent.glob("*.index")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.kill()
    proc.wait()
    # Besides complete shards, a kill can leave temporary files and a shard whose index rename was cut off.
    (out.parent / "train-00003.tfrecord").write_bytes(b"cut")
    (out.parent / "train-00003.tfrecord.index").unlink(missing_ok=True)
    (out.parent / "train-00003.tfrecord.tmp-1").write_bytes(b"half")
    done_before = [p for p in out.parent.glob("*.tfrecord") if p.with_name(p.name + ".index").is_file()]

    result = run_script("create_pretraining_data.py", *args)
    assert result.returncode == 0, result.stderr
    assert f"to {7 - len(done_before)} file(s)" in result.stdout
    assert not list(out.parent.glob("*.tmp-*"))
    assert shard_bytes(out.parent) == shard_bytes(tmp_path / "ref")
    assert len(set(record_keys(out.parent.glob("*.tfrecord")))) == reference.instances


def test_cli_writes_shards_with_index_lengths_and_summary_and_a_rerun_skips_them(shared_data, tmp_path):
    out = tmp_path / "data" / "train.tfrecord"
    args = ["--input_file", str(shared_data / "seed_toy" / "restaurant_review.txt"), "--output_file", str(out),
            "--vocab_file", str(shared_data / "seed_toy" / "vocab.txt"), "--nodo_lower_case", "--max_seq_length", "64",
            "--dupe_factor", "4", "--quiet"]
    result = run_script("create_pretraining_data.py", *args)
    assert result.returncode == 0, result.stderr
    assert "wrote 4 instances from 1 documents" in result.stdout
    shard = tmp_path / "data" / "train-00000.tfrecord"
    assert sorted(p.name for p in shard.parent.iterdir()) == [shard.name, f"{shard.name}.index",
                                                               f"{shard.name}.lengths", "train.tfrecord.settings.json"]
    lengths = np.fromfile(f"{shard}.lengths", dtype="<u2")
    records = PretrainingRecords([str(shard)])
    assert lengths.tolist() == [int(records.example(i)["input_mask"].sum()) for i in range(len(records))]
    before = shard.read_bytes()
    rerun = dict(tokenizer_file=str(shared_data / "seed_toy" / "vocab.txt"), do_lower_case=False,
                 cfg=MaskingConfig(max_seq_length=64), dupe_factor=4, progress=False)
    again = create_pretraining_data(str(shared_data / "seed_toy" / "restaurant_review.txt"), str(out), **rerun)
    assert again.instances == 0 and again.skipped_files == (str(shard),) and shard.read_bytes() == before
    assert "1 complete file(s) skipped" in again.line()
    remade = create_pretraining_data(str(shared_data / "seed_toy" / "restaurant_review.txt"), str(out),
                                     random_seed=7, overwrite=True, **rerun)
    assert remade.instances == 4 and shard.read_bytes() != before


def test_a_rerun_with_other_settings_stops_in_one_line_until_overwrite(sample_spm, tmp_path):
    out = tmp_path / "train.tfrecord"
    args = ["--input_file", str(SAMPLE / "reviews.txt"), "--output_file", str(out),
            "--spm_model_file", str(sample_spm), "--max_seq_length", "64",
            "--dupe_factor", "1", "--documents_per_piece", "400", "--quiet"]
    assert run_script("create_pretraining_data.py", *args).returncode == 0
    before = shard_bytes(tmp_path)
    same = run_script("create_pretraining_data.py", *args, "--num_workers", "2", "--num_tasks", "1")
    assert same.returncode == 0 and "to 0 file(s), 4 complete file(s) skipped" in same.stdout, same.stderr

    other = run_script("create_pretraining_data.py", *args, "--dupe_factor", "2")
    assert_one_line_error(other, str(out), "dupe_factor 1, this run has 2", "settings.json", "--overwrite")
    assert shard_bytes(tmp_path) == before

    overwritten = run_script("create_pretraining_data.py", *args, "--dupe_factor", "2", "--overwrite")
    assert overwritten.returncode == 0 and "to 4 file(s)" in overwritten.stdout, overwritten.stderr
    assert json.loads(manifest(tmp_path))["dupe_factor"] == 2 and shard_bytes(tmp_path) != before


def test_every_setting_that_changes_the_shards_is_checked(sample_spm, tmp_path):
    corpus = tmp_path / "reviews.txt"
    shutil.copy(SAMPLE / "reviews.txt", corpus)
    out = tmp_path / "out" / "train.tfrecord"
    settings = dict(input_file=str(corpus), output_file=str(out), tokenizer_file=str(sample_spm), cfg=SMALL_CFG,
                    dupe_factor=1, documents_per_piece=400, progress=False)
    create_pretraining_data(**settings)
    before = shard_bytes(out.parent)
    size = corpus.stat().st_size
    for changed, fragment in [
        (dict(random_seed=7), "random_seed 12345, this run has 7"),
        (dict(cfg=MaskingConfig(max_seq_length=64, max_predictions_per_seq=10, masked_lm_prob=0.2)),
         "masked_lm_prob 0.15, this run has 0.2"),
        (dict(do_lower_case=False), "do_lower_case true, this run has false"),
        (dict(documents_per_piece=750), "documents_per_piece 400, this run has 750"),
        (dict(tokenizer_file=str(REPO / "models" / "albert-reviews-small" / "spiece.model")), "tokenizer_file"),
        (dict(input_file=[str(corpus), str(SAMPLE / "unseen_reviews.txt")]),
         'input_files[1] (none), this run has {"name": "unseen_reviews.txt"'),
        (dict(input_file=f"lines:{corpus}"), 'input_files[0].format "sentences", this run has "lines"'),
    ]:
        with pytest.raises(UserInputError, match=re.escape(fragment)):
            create_pretraining_data(**{**settings, **changed})
    with open(corpus, "a") as f:
        f.write("One more review.\n")
    with pytest.raises(UserInputError, match=rf"input_files\[0\]\.bytes {size}, this run has {size + 17}"):
        create_pretraining_data(**settings)
    assert shard_bytes(out.parent) == before

    create_pretraining_data(**{**settings, "documents_per_piece": 750, "overwrite": True})  # pieces 2, 3 go too
    assert sorted(shard_bytes(out.parent)) == ["train-00000.tfrecord", "train-00001.tfrecord"]
    assert json.loads(manifest(out.parent))["documents_per_piece"] == 750

    # the same corpus and tokenizer elsewhere (moved, or another machine's mount) resume the same shards
    moved, made = tmp_path / "moved", shard_bytes(out.parent)
    moved.mkdir()
    shutil.copy(corpus, moved / corpus.name)
    shutil.copy(sample_spm, moved / sample_spm.name)
    create_pretraining_data(**{**settings, "input_file": str(moved / corpus.name),
                               "tokenizer_file": str(moved / sample_spm.name), "documents_per_piece": 750})
    assert shard_bytes(out.parent) == made

    (out.parent / "train.tfrecord.settings.json").write_text("[]")
    with pytest.raises(UserInputError, match="not a settings manifest .expected a JSON object"):
        create_pretraining_data(**settings)
    (out.parent / "train.tfrecord.settings.json").unlink()  # or shards made before manifests were written
    with pytest.raises(UserInputError, match="2 shard.s. such as .*train-00000.tfrecord exist, but no .*settings.json"):
        create_pretraining_data(**settings)


def test_slurm_array_sets_the_task(monkeypatch):
    monkeypatch.delenv("SLURM_ARRAY_TASK_COUNT", raising=False)
    assert slurm_array_task() == (1, 0)
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "8")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "5")
    monkeypatch.setenv("SLURM_ARRAY_TASK_MIN", "1")  # --array=1-8
    assert slurm_array_task() == (8, 4)
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "x")
    with pytest.raises(UserInputError, match="SLURM_ARRAY_TASK_ID=x, .*: expected integers"):
        slurm_array_task()


@pytest.mark.parametrize("case", ["missing", "glob", "empty", "no_vocab", "bad_flag", "bad_task"])
def test_cli_bad_input(sample_spm, tmp_path, case):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    spm = str(sample_spm)
    args, fragments = {
        "missing": (["--input_file", str(tmp_path / "nope.txt"), "--spm_model_file", spm],
                    ["nope.txt", "matches no file"]),
        "glob": (["--input_file", str(tmp_path / "*.corpus"), "--spm_model_file", spm],
                 ["*.corpus", "matches no file"]),
        "empty": (["--input_file", str(empty), "--spm_model_file", spm], ["empty.txt", "empty corpus"]),
        "no_vocab": (["--input_file", str(empty), "--spm_model_file", str(tmp_path / "x.model")],
                     ["x.model", "does not exist"]),
        "bad_flag": (["--input_file", str(empty), "--spm_model_file", spm, "--max_seq_length", "3"],
                     ["max_seq_length must be >= 5"]),
        "bad_task": (["--input_file", str(empty), "--spm_model_file", spm, "--num_tasks", "2", "--task_index", "2"],
                     ["task_index must be in 0..1", "got 2"]),
    }[case]
    result = run_script("create_pretraining_data.py", *args, "--output_file", str(tmp_path / "out.tfrecord"))
    assert_one_line_error(result, *fragments)
    assert not list(tmp_path.glob("out*"))
