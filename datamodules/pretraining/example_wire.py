"""Protobuf wire bytes of a ``tf.train.Example`` holding int64 and float lists, written directly.

Building protobuf objects cost about a quarter of making pretraining data. The bytes are the ones
protobuf's deterministic serialization gives (features in key order, lists packed; tests check it):
Example.features (field 1) -> Features.feature map entries (field 1: key 1, value 2) -> Feature's
float_list (field 2) or int64_list (field 3) -> packed ``value`` (field 1).
"""
from __future__ import annotations

import struct
from typing import Sequence

# Varint bytes of each value met so far: token ids, positions and lengths, so it stays vocabulary-sized.
_varint_cache: dict[int, bytes] = {}


def varint(value: int) -> bytes:
    """Base-128 varint of a non-negative int (a negative one raises ValueError)."""
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _varints(values: Sequence[int]) -> bytes:
    try:
        return b"".join(map(_varint_cache.__getitem__, values))
    except KeyError:
        _varint_cache.update({v: varint(v) for v in values if v not in _varint_cache})
        return b"".join(map(_varint_cache.__getitem__, values))


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: its tag byte, the payload's length, the payload."""
    return tag + (_varint_cache.get(len(payload)) or _varints((len(payload),))) + payload


def _entry(name: str, list_tag: bytes, packed: bytes) -> bytes:
    """The Features map entry: key ``name``, value a Feature whose list (``list_tag``) holds ``packed``."""
    feature = _field(list_tag, _field(b"\x0a", packed) if packed else b"")  # an empty list has no value field
    return _field(b"\x0a", _field(b"\x0a", name.encode()) + _field(b"\x12", feature))


def int64_entry(name: str, values: Sequence[int], zeros: int = 0) -> bytes:
    """Feature ``name``: an Int64List of ``values`` (each >= 0) then ``zeros`` zeros."""
    return _entry(name, b"\x1a", _varints(values) + b"\x00" * zeros)


def float_entry(name: str, values: Sequence[float], zeros: int = 0) -> bytes:
    """Feature ``name``: a FloatList (float32) of ``values`` then ``zeros`` zeros."""
    return _entry(name, b"\x12", struct.pack(f"<{len(values)}f", *values) + b"\x00\x00\x00\x00" * zeros)


def example(entries: dict[str, bytes]) -> bytes:
    """A serialized Example from feature name -> its ``int64_entry`` / ``float_entry``."""
    return _field(b"\x0a", b"".join([entries[name] for name in sorted(entries)]))
