"""The embedded stack: Temporal dev server, local vendor, worker and API as one foreground command."""
