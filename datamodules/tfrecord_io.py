"""TFRecord files in google-research/ALBERT's pretraining schema: write, index, read with CRC checks.

Framing (TensorFlow's): uint64 length, uint32 masked CRC32C of the length, the serialized
``tf.train.Example``, uint32 masked CRC32C of the data. Examples are built with the ``tfrecord``
package's protobuf classes; CRCs use its ``masked_crc``, so TensorFlow reads our files.
An index beside each shard (``<shard>.index``, the ``tfrecord`` package's format: one
``offset length`` line per record) gives random access without a scan.
"""
from __future__ import annotations

import os
import struct
import warnings
from typing import Iterable

import numpy as np
from tfrecord import example_pb2
from tfrecord.writer import TFRecordWriter

from datamodules.errors import UserInputError
from datamodules.pretraining_instances import Instance

# Google's write_instance_to_example_files: name -> (dtype, length kind).
INT_FEATURES = ("input_ids", "input_mask", "segment_ids", "token_boundary", "masked_lm_positions", "masked_lm_ids",
                "next_sentence_labels")
FLOAT_FEATURES = ("masked_lm_weights",)
# What training reads; token_boundary is written for compatibility but never read by Google's trainer.
TRAINING_FEATURES = ("input_ids", "input_mask", "segment_ids", "masked_lm_positions", "masked_lm_ids",
                     "masked_lm_weights", "next_sentence_labels")
_HEADER = struct.Struct("<QI")


class CorruptRecordError(UserInputError):
    def __init__(self, path: str, offset: int, what: str):
        super().__init__(f"{path}: corrupt TFRecord at byte offset {offset}: {what}")


def _pad(values: list, length: int, fill=0) -> list:
    return values + [fill] * (length - len(values))


def instance_to_example(instance: Instance, max_seq_length: int, max_predictions_per_seq: int) -> bytes:
    """Serialize one instance as a ``tf.train.Example`` with Google's eight features."""
    n = len(instance.input_ids)
    p = len(instance.masked_lm_positions)
    return TFRecordWriter.serialize_tf_example({
        "input_ids": (_pad(instance.input_ids, max_seq_length), "int"),
        "input_mask": (_pad([1] * n, max_seq_length), "int"),
        "segment_ids": (_pad(instance.segment_ids, max_seq_length), "int"),
        "token_boundary": (_pad(instance.token_boundary, max_seq_length), "int"),
        "masked_lm_positions": (_pad(instance.masked_lm_positions, max_predictions_per_seq), "int"),
        "masked_lm_ids": (_pad(instance.masked_lm_ids, max_predictions_per_seq), "int"),
        "masked_lm_weights": (_pad([1.0] * p, max_predictions_per_seq, 0.0), "float"),
        "next_sentence_labels": ([int(instance.is_random_next)], "int"),
    })


def frame_record(data: bytes) -> bytes:
    """TFRecord framing of one serialized example."""
    length = struct.pack("<Q", len(data))
    return length + TFRecordWriter.masked_crc(length) + data + TFRecordWriter.masked_crc(data)


def write_tfrecord(path: str, records: Iterable[bytes]) -> int:
    """Write framed records and ``path.index`` via temporary files renamed at the end; return the count."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp, tmp_index = f"{path}.tmp-{os.getpid()}", f"{path}.index.tmp-{os.getpid()}"
    count = 0
    with open(tmp, "wb") as out, open(tmp_index, "w") as index:
        for data in records:
            framed = frame_record(data)
            index.write(f"{out.tell()} {len(framed)}\n")
            out.write(framed)
            count += 1
    os.replace(tmp, path)
    os.replace(tmp_index, f"{path}.index")
    return count


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
