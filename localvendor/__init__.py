"""The local vendor: a real PyAV renderer behind a vendor-style asynchronous HTTP API.

It is the embedded default vendor and the one tests and demos use. ``renderer`` makes the video,
``server`` is the HTTP API (its docstring is this vendor's wire-format documentation), and
``vendors/local.py`` is the adapter the activities talk to. Run it with ``python -m localvendor``.
"""
