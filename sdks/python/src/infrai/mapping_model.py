"""Typed results that also behave as read-only mappings.

The public API promises ``job.get("job_id")`` and ``job["state"]`` as well as ``job.state``, so every
result is a pydantic model that is also a ``Mapping``. Fields the server adds later are kept
(``extra="allow"``): they show up as attributes, as keys and in ``dict(job)``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict


class InfraiModel(BaseModel, Mapping[str, Any]):
    """Base of every result: attribute access, mapping access, and unknown fields preserved."""

    model_config = ConfigDict(extra="allow")

    def __getitem__(self, key: str) -> Any:
        if key in type(self).model_fields:
            return getattr(self, key)
        # Extras are read from where pydantic keeps them, not with getattr: a server field named like a
        # Mapping method (GET /v1/account sends ``keys``) would otherwise come back as that method.
        extra = self.model_extra or {}
        if key in extra:
            return extra[key]
        raise KeyError(key)

    # BaseModel iterates (name, value) pairs; a Mapping iterates its keys, and dict(model) relies on that.
    def __iter__(self) -> Iterator[str]:  # type: ignore[override]
        yield from type(self).model_fields
        yield from self.model_extra or {}

    def __len__(self) -> int:
        return len(type(self).model_fields) + len(self.model_extra or {})

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (decimals and datetimes as strings), extra fields included."""
        return self.model_dump(mode="json")
