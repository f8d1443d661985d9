"""Every argparse script takes each long option spelled with - or _ (and export_hf.py --ckpt as --model)."""
import pytest

from conftest import SAMPLE, assert_one_line_error, run_script
from datamodules.common.script_flags import ScriptArgumentParser


def parser() -> ScriptArgumentParser:
    p = ScriptArgumentParser(prog="x", old_names={"--ckpt": "--model"})
    p.add_argument("--input-format", default="sentences")
    p.add_argument("--output_file")
    p.add_argument("--model")
    p.add_argument("--do-lower-case", action="store_true")
    p.add_argument("rest", nargs="*")
    return p


@pytest.mark.parametrize("argv", [
    ["--input-format", "csv", "--output_file", "o", "--model", "m", "--do-lower-case"],
    ["--input_format", "csv", "--output-file", "o", "--ckpt", "m", "--do_lower_case"],
    ["--input_format=csv", "--output-file=o", "--ckpt=m", "--do_lower-case"],
])
def test_each_option_in_either_spelling_and_old_names(argv):
    args = parser().parse_args(argv)
    assert (args.input_format, args.output_file, args.model, args.do_lower_case) == ("csv", "o", "m", True)


def test_help_shows_the_documented_spelling_only_and_unknown_options_still_fail(capsys):
    help_text = parser().format_help()
    assert "--input-format" in help_text and "--output_file" in help_text and "--model" in help_text
    assert "--input_format" not in help_text and "--output-file" not in help_text and "--ckpt" not in help_text
    assert parser().parse_args(["--", "--input_format"]).rest == ["--input_format"]  # after --: values
    with pytest.raises(SystemExit):
        parser().parse_args(["--input_formats", "csv"])
    assert "unrecognized arguments: --input_formats" in capsys.readouterr().err


def test_scripts_take_both_spellings(tmp_path):
    result = run_script("build_vocab.py", "--input", str(SAMPLE / "reviews.txt"), "--input_format", "lines",
                        "--model_prefix", str(tmp_path / "spm"), "--vocab_size", "60", "--no-do_lower_case")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "spm.model").is_file()
    result = run_script("create_pretraining_data.py", "--input-file", str(SAMPLE / "reviews.txt"),
                        "--input-format", "lines", "--output-file", str(tmp_path / "out.tfrecord"),
                        "--spm-model-file", str(tmp_path / "spm.model"), "--max-seq-length", "32",
                        "--dupe-factor", "1", "--quiet")
    assert result.returncode == 0, result.stderr
    assert list(tmp_path.glob("out*.tfrecord"))
    for flag in ("--model", "--ckpt"):  # reaches the checkpoint check: the option was taken
        result = run_script("export_hf.py", flag, str(tmp_path / "none.ckpt"), "--output", str(tmp_path / "x"))
        assert_one_line_error(result, "none.ckpt", "does not exist")
