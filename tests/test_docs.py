"""The docs' commands and links point at things that exist.

Every command line in a fenced block of README.md or docs/*.md that runs a script (`python scripts/NAME.py`,
`torchrun ... scripts/NAME.py`, `bash scripts/...`, `sbatch scripts/cluster/...`) or `make TARGET` must name an
existing script or Makefile target, use only flags that script's --help lists, and name existing repository
paths (configs/, models/, data/sample/, scripts/); relative links between the Markdown files must resolve,
anchors included. Nothing is run but --help (once per script, concurrently): commands that read files the
pipeline makes (runs/...) are only read.
"""
from __future__ import annotations

import glob
import os
import re
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", REPO / "CHANGELOG.md", *sorted((REPO / "docs").glob("*.md"))]
LIGHTNING_CLIS = {"pretrain", "finetune"}  # LightningCLI scripts: flags come from `fit --help`
SUBCOMMAND_SCRIPTS = {"benchmark"}  # argparse subcommands with their own flags: `NAME SUB --help`
REPO_PATH_PREFIXES = ("configs/", "models/", "data/sample/", "scripts/", "docs/", "tests/")
SEPARATORS = {"|", "||", "&&", ";", "&"}
SHELL_FENCES = {"", "bash", "sh", "shell", "console"}
SCRIPT = re.compile(r"^(?:\./)?scripts/(\w+)\.py$")


@dataclass(frozen=True)
class Command:
    where: str  # file:line of the command's first line
    words: tuple[str, ...]


def fenced_lines(path: Path):
    """(line number, line) of every line inside a command fence of a Markdown file: ``` or ```bash / sh /
    shell / console; a block of program output, a message or a file tree is fenced as ```text and skipped."""
    inside, is_shell = False, False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fence = re.match(r"^\s*```\s*(\S*)", line)
        if fence:
            inside, is_shell = not inside, fence.group(1) in SHELL_FENCES
        elif inside and is_shell:
            yield number, line


def commands(path: Path) -> list[Command]:
    """The shell commands of a file's fenced blocks: continuation lines joined, split at | && ; and comments."""
    found, pending, start = [], "", 0
    for number, line in fenced_lines(path):
        if not pending:
            start = number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        text, pending = pending + line, ""
        lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        try:
            words = list(lexer)
        except ValueError:  # not shell (program output, JSON): no command to check
            continue
        segment: list[str] = []
        for word in [*words, ";"]:
            if word in SEPARATORS:
                if segment:
                    found.append(Command(f"{path.relative_to(REPO)}:{start}", tuple(segment)))
                segment = []
            else:
                segment.append(word)
    return found


def all_commands() -> list[Command]:
    return [command for path in DOCS for command in commands(path)]


def script_call(command: Command) -> tuple[str, str | None, list[str]] | None:
    """(script name, subcommand or None, the words after it) when the command runs scripts/NAME.py, directly or
    through a shell/SLURM script in scripts/ that passes its arguments on to one."""
    for index, word in enumerate(command.words):
        match = SCRIPT.match(word)
        if match:
            name, rest = match.group(1), list(command.words[index + 1:])
            if name in LIGHTNING_CLIS | SUBCOMMAND_SCRIPTS and rest and not rest[0].startswith("-"):
                return name, rest[0], rest[1:]
            return name, None, rest
        if word.startswith("scripts/") and word.endswith((".sh", ".slurm")) and (REPO / word).is_file():
            inner = re.search(r"scripts/(\w+)\.py\s+(\w+)?", (REPO / word).read_text(encoding="utf-8"))
            if inner and '"$@"' in (REPO / word).read_text(encoding="utf-8"):
                sub = inner.group(2) if inner.group(1) in LIGHTNING_CLIS else None
                return inner.group(1), sub, list(command.words[index + 1:])
            return None
    return None


def help_key(name: str, subcommand: str | None) -> tuple[str, ...]:
    if name in LIGHTNING_CLIS:
        return name, "fit"  # every LightningCLI subcommand takes the same model/data/trainer flags
    if name in SUBCOMMAND_SCRIPTS and subcommand:
        return name, subcommand
    return (name,)


def help_text(key: tuple[str, ...]) -> str | None:
    """The script's --help output, or None when it fails (an unknown subcommand)."""
    result = subprocess.run([sys.executable, str(REPO / "scripts" / f"{key[0]}.py"), *key[1:], "--help"],
                            cwd=REPO, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    return result.stdout if result.returncode == 0 else None


def accepted_flags(help_output: str) -> set[str]:
    """Option strings of an argparse / jsonargparse help: the part of each option line before its description."""
    flags = set()
    for line in help_output.splitlines():
        stripped = line.strip()
        if stripped.startswith("-"):
            options = re.split(r"\s{2,}", stripped)[0]
            flags.update(flag.rstrip("+") for flag in re.findall(r"--[A-Za-z0-9_.+-]+", options))
    return flags


def flags_used(words: list[str]) -> list[str]:
    return [word.split("=", 1)[0] for word in words if word.startswith("--") and len(word) > 2]


def makefile_targets() -> set[str]:
    text = (REPO / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, flags=re.MULTILINE))


def repo_paths(words) -> list[str]:
    """Words (or their value after `=` or a `FORMAT:` prefix) that name a path inside the repository."""
    paths = []
    for word in words:
        for candidate in (word, word.split("=", 1)[-1], re.sub(r"^\w+:", "", word)):
            if candidate.startswith(REPO_PATH_PREFIXES):
                paths.append(candidate)
                break
    return paths


def test_docs_have_commands():
    """The parser finds the pipeline in the README (so the checks below cannot pass on nothing)."""
    names = {call[0] for call in map(script_call, all_commands()) if call}
    assert {"build_vocab", "create_pretraining_data", "pretrain", "finetune", "predict", "export_onnx", "serve",
            "export_hf"} <= names


def test_commands_name_existing_scripts_targets_and_paths():
    targets, problems = makefile_targets(), []
    for command in all_commands():
        words = command.words
        if words[0] == "make":
            problems += [f"{command.where}: no Makefile target {word!r}" for word in words[1:]
                         if not word.startswith("-") and "=" not in word and word not in targets]
        for word in words:
            if re.match(r"^(?:\./)?scripts/\S+\.(?:py|sh|slurm)$", word) and not (REPO / word).is_file():
                problems.append(f"{command.where}: no script {word}")
        for path in repo_paths(words[1:]):
            if not glob.glob(str(REPO / path)):
                problems.append(f"{command.where}: no such path {path}")
    assert not problems, "\n".join(problems)


def test_command_flags_are_accepted():
    calls = [(command, call) for command in all_commands() if (call := script_call(command))]
    keys = sorted({help_key(name, sub) for _, (name, sub, _) in calls if (REPO / "scripts" / f"{name}.py").is_file()})
    with ThreadPoolExecutor(max_workers=4) as pool:  # each --help is seconds of torch import
        helps = dict(zip(keys, pool.map(help_text, keys)))
    problems = []
    for command, (name, sub, rest) in calls:
        key = help_key(name, sub)
        if key not in helps:
            continue  # a missing script: reported by the test above
        if helps[key] is None:
            problems.append(f"{command.where}: `{' '.join(key)} --help` fails")
            continue
        accepted = accepted_flags(helps[key])
        problems += [f"{command.where}: {' '.join(key)} does not accept {flag}" for flag in flags_used(rest)
                     if flag not in accepted]
    assert not problems, "\n".join(problems)


def anchors(path: Path) -> set[str]:
    """GitHub's heading anchors of a Markdown file: lower case, punctuation dropped, spaces as hyphens."""
    found, seen, inside = set(), {}, False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            inside = not inside
            continue
        heading = re.match(r"^#{1,6}\s+(.*)$", line)
        if heading and not inside:
            slug = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-")
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def test_relative_links_resolve():
    problems = []
    for path in DOCS:
        text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
        for target in re.findall(r"\[[^\]]*\]\(([^)\s]+)\)", text):
            if re.match(r"^[a-z]+:", target):
                continue  # https:, mailto:
            file_part, _, fragment = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            where = f"{path.relative_to(REPO)}: link {target}"
            if not linked.exists():
                problems.append(f"{where}: no such file")
            elif fragment and linked.suffix == ".md" and fragment not in anchors(linked):
                problems.append(f"{where}: no heading #{fragment} in {linked.relative_to(REPO)}")
    assert not problems, "\n".join(problems)
