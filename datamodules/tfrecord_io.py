"""TFRecord files in google-research/ALBERT's pretraining schema: write, index, read with CRC checks.

Framing (TensorFlow's): uint64 length, uint32 masked CRC32C of the length, the serialized
``tf.train.Example``, uint32 masked CRC32C of the data. Examples are built with the ``tfrecord``
package's protobuf classes; CRCs use its ``masked_crc``, so TensorFlow reads our files.
An index beside each shard (``<shard>.index``, the ``tfrecord`` package's format: one
``offset length`` line per record) gives random access without a scan; our writer also leaves
``<shard>.lengths`` (each record's real token count), so a reader groups records by length without
reading them. Google-format tools see the shard and its index unchanged.
"""
from __future__ import annotations

import os
import struct
import warnings
from typing import Iterable, Sequence

import numpy as np
from tfrecord import example_pb2
from tfrecord.writer import TFRecordWriter

from datamodules.common.errors import UserInputError
from datamodules.pretraining_instances import Instance

# Google's write_instance_to_example_files: name -> (dtype, length kind).
INT_FEATURES = ("input_ids", "input_mask", "segment_ids", "token_boundary", "masked_lm_positions", "masked_lm_ids",
                "next_sentence_labels")
FLOAT_FEATURES = ("masked_lm_weights",)
# What training reads; token_boundary is written for compatibility but never read by Google's trainer.
TRAINING_FEATURES = ("input_ids", "input_mask", "segment_ids", "masked_lm_positions", "masked_lm_ids",
                     "masked_lm_weights", "next_sentence_labels")
_HEADER = struct.Struct("<QI")
# ``<shard>.lengths``: the real (unpadded) token count of each record, in record order, as raw
# little-endian uint16 (2 bytes a record; max_seq_length never comes near 65535).
LENGTHS_DTYPE = np.dtype("<u2")
LENGTHS_MAX = np.iinfo(LENGTHS_DTYPE).max


class CorruptRecordError(UserInputError):
    def __init__(self, path: str, offset: int, what: str):
        super().__init__(f"{path}: corrupt TFRecord at byte offset {offset}: {what}")


def _pad(values: list, length: int, fill=0) -> list:
    return values + [fill] * (length - len(values))


def _int_feature(values: list[int]) -> example_pb2.Feature:
    return example_pb2.Feature(int64_list=example_pb2.Int64List(value=values))


def instance_to_example(instance: Instance, max_seq_length: int, max_predictions_per_seq: int) -> bytes:
    """Serialize one instance as a ``tf.train.Example`` with Google's eight features."""
    n = len(instance.input_ids)
    p = len(instance.masked_lm_positions)
    feature = {
        "input_ids": _int_feature(_pad(instance.input_ids, max_seq_length)),
        "input_mask": _int_feature(_pad([1] * n, max_seq_length)),
        "segment_ids": _int_feature(_pad(instance.segment_ids, max_seq_length)),
        "token_boundary": _int_feature(_pad(instance.token_boundary, max_seq_length)),
        "masked_lm_positions": _int_feature(_pad(instance.masked_lm_positions, max_predictions_per_seq)),
        "masked_lm_ids": _int_feature(_pad(instance.masked_lm_ids, max_predictions_per_seq)),
        "masked_lm_weights": example_pb2.Feature(
            float_list=example_pb2.FloatList(value=_pad([1.0] * p, max_predictions_per_seq, 0.0))),
        "next_sentence_labels": _int_feature([int(instance.is_random_next)]),
    }
    # deterministic: the feature map in key order, so a seed gives the same bytes in every process
    # (protobuf's default map order differs between processes).
    return example_pb2.Example(features=example_pb2.Features(feature=feature)).SerializeToString(deterministic=True)


def frame_record(data: bytes) -> bytes:
    """TFRecord framing of one serialized example."""
    length = struct.pack("<Q", len(data))
    return length + TFRecordWriter.masked_crc(length) + data + TFRecordWriter.masked_crc(data)


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
            if TFRecordWriter.masked_crc(header[:8]) != header[8:]:
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
    if framed[8:12] != TFRecordWriter.masked_crc(framed[:8]) or data_length != length - 16:
        raise CorruptRecordError(path, offset, "length CRC mismatch")
    data = framed[12:-4]
    if framed[-4:] != TFRecordWriter.masked_crc(data):
        raise CorruptRecordError(path, offset, "data CRC mismatch")
    return data


def parse_example(data: bytes, names: Iterable[str] = TRAINING_FEATURES) -> dict[str, np.ndarray]:
    """Feature name -> int64 or float32 array, for the given names (all must be present)."""
    feature = example_pb2.Example.FromString(data).features.feature
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
