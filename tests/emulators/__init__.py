"""Loopback emulators of the video vendors' HTTP APIs, for adapter tests. One module per vendor.

Each speaks the vendor's documented wire format (see /work/shared/vendors.md and the adapter docstrings),
checks auth and version headers like the real API, and can be steered through ``POST /_control``.
"""
