"""The settings a run's shards were made with, in ``<output_file>.settings.json`` beside them: a rerun
with other settings stops, instead of skipping old shards as done and adding new ones beside them.

It holds every setting that changes a shard's bytes and nothing else (not the workers, the tasks or the
progress bar): every task of one job writes the same bytes, so tasks on different machines may write
it at the same time, each atomically. A run writes it just before its first shard, so it never
describes a run that wrote nothing.
"""
from __future__ import annotations

import json
import os

from datamodules.common.errors import UserInputError
from datamodules.common.files import atomic_write_bytes
from datamodules.pretraining.corpus_pieces import shards_on_disk

_ABSENT = object()  # a setting one of the two runs does not have
# Settings recorded only since a later version, each with the value a manifest without it means: how
# every run made its shards before the setting existed (no byte limit on a piece).
SETTINGS_BEFORE_RECORDED = {"max_piece_bytes": None}


def manifest_path(output_file: str) -> str:
    return f"{output_file}.settings.json"


def write_settings(output_file: str, settings: dict) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(output_file)), exist_ok=True)
    atomic_write_bytes(manifest_path(output_file), (json.dumps(settings, indent=1) + "\n").encode("utf-8"))


def check_settings(output_file: str, settings: dict) -> None:
    """Raise unless the shards already under ``output_file``'s name (if any) were made with ``settings``."""
    path = manifest_path(output_file)
    advice = "use --overwrite to make them again, or another --output_file"
    if not os.path.exists(path):
        shards = shards_on_disk(output_file)
        if shards:
            raise UserInputError(f"{output_file}: {len(shards)} shard(s) such as {next(iter(shards.values()))} "
                                 f"exist, but no {path} says which settings made them; {advice}")
        return
    try:
        with open(path, encoding="utf-8") as f:
            recorded = json.load(f)
        if not isinstance(recorded, dict):
            raise ValueError(f"expected a JSON object, got {type(recorded).__name__}")
    except ValueError as e:  # also bad JSON or UTF-8
        raise UserInputError(f"{path}: not a settings manifest ({e}); {advice}") from None
    difference = first_difference({**SETTINGS_BEFORE_RECORDED, **recorded}, settings)
    if difference:
        name, old, new = difference
        raise UserInputError(f"{output_file}: its shards were made with {name} {old}, this run has {new} "
                             f"(recorded in {path}); {advice}")


def first_difference(old, new, name: str = "") -> tuple[str, str, str] | None:
    """(setting, old value, new value) of the first differing setting in ``new``'s order, values as JSON;
    a list or object is followed down to the item that differs (``input_files[2].bytes``)."""
    if isinstance(old, dict) and isinstance(new, dict):
        keys = [*new, *(key for key in old if key not in new)]
        pairs = [(f"{name}.{key}" if name else key, old.get(key, _ABSENT), new.get(key, _ABSENT)) for key in keys]
    elif isinstance(old, list) and isinstance(new, list):
        pairs = [(f"{name}[{i}]", old[i] if i < len(old) else _ABSENT, new[i] if i < len(new) else _ABSENT)
                 for i in range(max(len(old), len(new)))]
    else:
        return None if old == new else (name, _as_json(old), _as_json(new))
    for child_name, child_old, child_new in pairs:
        found = first_difference(child_old, child_new, child_name)
        if found:
            return found
    return None


def _as_json(value) -> str:
    return "(none)" if value is _ABSENT else json.dumps(value)
