"""Benchmarks: our overhead beside the raw tools, measured in the same run on the same machine."""
