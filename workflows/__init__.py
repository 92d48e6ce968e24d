"""Deterministic orchestration of one video job (the ``VideoJob`` workflow) and how to reach Temporal."""
