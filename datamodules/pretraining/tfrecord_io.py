"""TFRecord files in google-research/ALBERT's pretraining schema: write, index, read with CRC checks.

Framing (TensorFlow's): uint64 length, uint32 masked CRC32C of the length, the serialized
``tf.train.Example``, uint32 masked CRC32C of the data. Examples are written by ``example_wire``
(protobuf's own bytes) and read with the ``tfrecord`` package's protobuf classes; CRCs are TensorFlow's
masked CRC32C, so TensorFlow reads our files.
An index beside each shard (``<shard>.index``, the ``tfrecord`` package's format: one
``offset length`` line per record) gives random access without a scan; our writer also leaves
``<shard>.lengths`` (each record's real token count), so a reader groups records by length without
reading them. Google-format tools see the shard and its index unchanged.
"""
from __future__ import annotations

import functools
import os
import struct
import warnings
from typing import Iterable, Sequence

import crc32c
import numpy as np

from datamodules.common.errors import UserInputError
from datamodules.pretraining import example_wire
from datamodules.pretraining.instances import Instance

# Google's write_instance_to_example_files: name -> (dtype, length kind).
INT_FEATURES = ("input_ids", "input_mask", "segment_ids", "token_boundary", "masked_lm_positions", "masked_lm_ids",
                "next_sentence_labels")
FLOAT_FEATURES = ("masked_lm_weights",)
# What training reads; token_boundary is written for compatibility but never read by Google's trainer.
TRAINING_FEATURES = ("input_ids", "input_mask", "segment_ids", "masked_lm_positions", "masked_lm_ids",
                     "masked_lm_weights", "next_sentence_labels")
_HEADER = struct.Struct("<QI")
_LENGTH = struct.Struct("<Q")
_CRC = struct.Struct("<I")
# ``<shard>.lengths``: the real (unpadded) token count of each record, in record order, as raw
# little-endian uint16 (2 bytes a record; max_seq_length never comes near 65535).
LENGTHS_DTYPE = np.dtype("<u2")
LENGTHS_MAX = np.iinfo(LENGTHS_DTYPE).max


class CorruptRecordError(UserInputError):
    def __init__(self, path: str, offset: int, what: str):
        super().__init__(f"{path}: corrupt TFRecord at byte offset {offset}: {what}")


def instance_to_example(instance: Instance, max_seq_length: int, max_predictions_per_seq: int) -> bytes:
    """Serialize one instance as a ``tf.train.Example`` with Google's eight features (``example_wire``: the
    bytes of protobuf's deterministic serialization, so a seed gives the same bytes in every process)."""
    n = len(instance.input_ids)
    p = len(instance.masked_lm_positions)
    return example_wire.example({
        **_entries_of_lengths(n, p, instance.is_random_next, max_seq_length, max_predictions_per_seq),
        "input_ids": example_wire.int64_entry("input_ids", instance.input_ids, max_seq_length - n),
        "segment_ids": example_wire.int64_entry("segment_ids", instance.segment_ids, max_seq_length - n),
        "token_boundary": example_wire.int64_entry("token_boundary", instance.token_boundary, max_seq_length - n),
        "masked_lm_positions": example_wire.int64_entry("masked_lm_positions", instance.masked_lm_positions,
                                                        max_predictions_per_seq - p),
        "masked_lm_ids": example_wire.int64_entry("masked_lm_ids", instance.masked_lm_ids,
                                                  max_predictions_per_seq - p),
    })


@functools.lru_cache(maxsize=None)
def _entries_of_lengths(n: int, p: int, is_random_next: bool, max_seq_length: int,
                        max_predictions_per_seq: int) -> dict[str, bytes]:
    """The features fixed by the lengths and the label, made once (a few thousand combinations at most)."""
    return {
        "input_mask": example_wire.int64_entry("input_mask", [1] * n, max_seq_length - n),
        "masked_lm_weights": example_wire.float_entry("masked_lm_weights", [1.0] * p, max_predictions_per_seq - p),
        "next_sentence_labels": example_wire.int64_entry("next_sentence_labels", [int(is_random_next)]),
    }


def masked_crc(data: bytes) -> bytes:
    """TFRecord's masked CRC32C (``TFRecordWriter.masked_crc`` in plain ints: it converts through numpy)."""
    crc = crc32c.crc32c(data)
    return _CRC.pack((((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF)


def frame_record(data: bytes) -> bytes:
    """TFRecord framing of one serialized example."""
    length = _LENGTH.pack(len(data))
    return length + masked_crc(length) + data + masked_crc(data)


def write_tfrecord(path: str, records: Iterable[bytes], real_lengths: Sequence[int] | None = None) -> int:
    """Write framed records, ``path.index`` and, given ``real_lengths`` (real tokens per record),
    ``path.lengths``; each via a temporary file renamed at the end, the index last (the mark of a
    complete shard). Return the count."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp, tmp_index, tmp_lengths = (f"{p}.tmp-{os.getpid()}" for p in (path, f"{path}.index", f"{path}.lengths"))
    count = 0
    # The data file closes first, so the index (and the lengths) are never older than it: readers trust
    # a sidecar only when it is.
    with open(tmp_index, "w") as index:
        with open(tmp, "wb") as out:
            for data in records:
                framed = frame_record(data)
                index.write(f"{out.tell()} {len(framed)}\n")
                out.write(framed)
                count += 1
    if real_lengths is not None:
        lengths = np.asarray(real_lengths, dtype=np.int64)
        if len(lengths) != count or (count and not 0 <= lengths.min() <= lengths.max() <= LENGTHS_MAX):
            raise ValueError(f"{path}: {len(lengths)} real lengths for {count} records, each must be 0..{LENGTHS_MAX}")
        lengths.astype(LENGTHS_DTYPE).tofile(tmp_lengths)
    os.replace(tmp, path)
    if real_lengths is not None:
        os.replace(tmp_lengths, f"{path}.lengths")
    os.replace(tmp_index, f"{path}.index")
    return count


def stored_real_lengths(path: str, records: int) -> np.ndarray | None:
    """Real tokens per record from ``path.lengths`` (our writer's sidecar), or None when there is none
    current (older than the data) with one entry per record: files written by other tools."""
    lengths_path = f"{path}.lengths"
    if not os.path.isfile(lengths_path) or os.path.getmtime(lengths_path) < os.path.getmtime(path):
        return None
    lengths = np.fromfile(lengths_path, dtype=LENGTHS_DTYPE)
    return lengths if len(lengths) == records else None


def record_offsets(path: str, skip_truncated_tail: bool = False) -> np.ndarray:
    """(offset, framed length) of every record: from ``path.index`` when it is current, else by a header scan.

    The scan checks each length CRC and that every record ends inside the file, so a truncated or
    corrupt file is reported here, with its offset, before training starts. With
    ``skip_truncated_tail`` a last record cut short (a job killed while writing) is left out with a
    warning instead.
    """
    size = os.path.getsize(path)
    index_path = f"{path}.index"
    if os.path.isfile(index_path) and os.path.getmtime(index_path) >= os.path.getmtime(path):
        table = np.loadtxt(index_path, dtype=np.int64, ndmin=2)
        if len(table) and table[-1, 0] + table[-1, 1] == size:
            return table.reshape(-1, 2)
    offsets = []
    with open(path, "rb") as f:
        offset = 0
        while offset < size:
            header = f.read(12)
            if len(header) < 12:
                if skip_truncated_tail:
                    warnings.warn(f"{path}: skipped a truncated record header at byte offset {offset}")
                    break
                raise CorruptRecordError(path, offset, "truncated record header (data.skip_corrupt skips it)")
            length, crc = _HEADER.unpack(header)
            if masked_crc(header[:8]) != header[8:]:
                raise CorruptRecordError(path, offset, "length CRC mismatch (not a TFRecord file, or corrupt)")
            end = offset + 12 + length + 4
            if end > size:
                if skip_truncated_tail:
                    warnings.warn(f"{path}: skipped 1 truncated record at byte offset {offset} (the file ends "
                                  f"{end - size} bytes early); {len(offsets)} records remain")
                    break
                raise CorruptRecordError(path, offset, f"truncated record (needs {end - offset} bytes, file ends first;"
                                                       f" data.skip_corrupt skips it)")
            offsets.append((offset, end - offset))
            offset = end
            f.seek(offset)
    return np.array(offsets, dtype=np.int64).reshape(-1, 2)


def read_record(f, path: str, offset: int, length: int) -> bytes:
    """The example bytes of the framed record at ``offset``, both CRCs checked."""
    f.seek(offset)
    framed = f.read(length)
    if len(framed) != length or length < 16:
        raise CorruptRecordError(path, offset, "truncated record")
    (data_length,) = struct.unpack("<Q", framed[:8])
    if framed[8:12] != masked_crc(framed[:8]) or data_length != length - 16:
        raise CorruptRecordError(path, offset, "length CRC mismatch")
    data = framed[12:-4]
    if framed[-4:] != masked_crc(data):
        raise CorruptRecordError(path, offset, "data CRC mismatch")
    return data


@functools.cache
def _example_message():
    # Imported on first read: the tfrecord package imports torch (~200 MB a process), which writing never needs,
    # so create_pretraining_data's parent and workers stay without it.
    from tfrecord import example_pb2

    return example_pb2.Example


def parse_example(data: bytes, names: Iterable[str] = TRAINING_FEATURES) -> dict[str, np.ndarray]:
    """Feature name -> int64 or float32 array, for the given names (all must be present)."""
    feature = _example_message().FromString(data).features.feature
    out = {}
    for name in names:
        if name not in feature:
            raise KeyError(name)
        f = feature[name]
        if f.HasField("float_list"):
            out[name] = np.asarray(f.float_list.value, dtype=np.float32)
        else:
            out[name] = np.asarray(f.int64_list.value, dtype=np.int64)
    return out
