"""Data side of albert-lightning: tokenizers, pretraining-instance creation, TFRecord I/O, DataModules."""
