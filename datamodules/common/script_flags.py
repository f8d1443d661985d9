"""The argument parser of every argparse script: each long option also spelled with ``_`` for ``-`` and back.

Google's scripts spell ``--input_file``, ours mostly ``--input-format``: a user should not have to remember
which. ``--help`` shows each option once, in the spelling the script documents; ``old_names`` are accepted
for an option renamed (``{"--ckpt": "--model"}``), also hidden from the help.
"""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence


class ScriptArgumentParser(argparse.ArgumentParser):
    def __init__(self, *args, old_names: Optional[dict[str, str]] = None, **kwargs):
        kwargs.setdefault("epilog", "Every option may also be spelled with _ for - and back (--a-b = --a_b).")
        super().__init__(*args, **kwargs)
        self._old_names = dict(old_names or {})

    def parse_known_args(self, args: Optional[Sequence[str]] = None, namespace=None):
        args = list(sys.argv[1:] if args is None else args)
        end = args.index("--") if "--" in args else len(args)  # after "--" everything is a value
        return super().parse_known_args([*map(self._documented, args[:end]), *args[end:]], namespace)

    def _documented(self, arg: str) -> str:
        """``arg`` with its option name in the documented spelling, when it names an option another way."""
        if not arg.startswith("--"):
            return arg
        name, equals, value = arg.partition("=")
        if name in self._option_string_actions:
            return arg
        for spelling in (name, "--" + name[2:].replace("_", "-"), "--" + name[2:].replace("-", "_")):
            spelling = self._old_names.get(spelling, spelling)
            if spelling in self._option_string_actions:
                return spelling + equals + value
        return arg
