"""Helpers every stage uses: one-line user errors, input-file expansion and atomic writes, checkpoint reading."""
