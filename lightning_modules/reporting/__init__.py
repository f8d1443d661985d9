"""Measuring and reporting: peak memory, latency percentiles, run metrics, the ALBERT-vs-BERT report."""
