"""Custom search attributes on every job, so operators can filter jobs in the Temporal UI.

They are registered when the dev server starts (``--search-attribute``) and by the production setup job.
Never put secrets or customer content (prompts, keys) in them: visibility data is not encrypted.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

PROJECT = SearchAttributeKey.for_keyword("InfraiProject")
VENDOR = SearchAttributeKey.for_keyword("InfraiVendor")
MODEL = SearchAttributeKey.for_keyword("InfraiModel")
STATE = SearchAttributeKey.for_keyword("InfraiState")

ALL = (PROJECT, VENDOR, MODEL, STATE)
"""Every custom attribute with its type, in the form the dev server's ``--search-attribute`` takes."""


def cli_flags() -> list[str]:
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}=Keyword"]
    return flags
