"""The Temporal worker process: runs the VideoJob workflow and every job activity."""
