"""The installed albert-* commands (setup.cfg's console_scripts) run from any directory."""
import configparser
import subprocess
import sys
from importlib.metadata import distribution
from pathlib import Path

from conftest import REPO, SAMPLE

BIN = Path(sys.executable).parent


def declared() -> dict[str, str]:
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    lines = config["options.entry_points"]["console_scripts"].strip().splitlines()
    return dict(tuple(part.strip() for part in line.split("=")) for line in lines)


def test_every_declared_command_is_installed_and_names_a_main():
    installed = {ep.name: ep for ep in distribution("albert-lightning").entry_points if ep.group == "console_scripts"}
    assert set(installed) == set(declared()), "setup.cfg changed since the install: run make setup"
    for name, target in declared().items():
        assert installed[name].value == target and (BIN / name).is_file(), name
        assert callable(installed[name].load()), target


def test_commands_run_from_another_directory(tmp_path):
    help_text = subprocess.run([BIN / "albert-export-hf", "--help"], cwd=tmp_path, capture_output=True, text=True)
    assert help_text.returncode == 0 and help_text.stdout.startswith("usage: albert-export-hf"), help_text.stderr
    result = subprocess.run([BIN / "albert-build-vocab", "--input", str(SAMPLE / "reviews.txt"), "--model-prefix",
                             "spm", "--vocab-size", "60"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "spm.model").is_file() and "wrote spm.model" in result.stdout
