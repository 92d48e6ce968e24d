"""What every HTTP vendor adapter shares, so an adapter holds only what is its vendor's own.

``HttpVendor`` takes the key, base URL, shared httpx client, catalog and ``VendorOptions`` (the one
constructor ``vendors.registry`` calls), sends every call with the vendor's auth header, and offers the
common readings: catalog lookups, task construction, a missing field, a free-text failure reason.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypedDict, TypeVar, Unpack
from urllib.parse import urlsplit

import httpx

from core.errors import ErrorCode, VendorError
from core.guarded_fetch import FetchLimits
from core.models import ErrorInfo, ReferenceImageForm, VendorCancel, VendorTask, VideoSpec
from core.settings import Settings
from core.url_safety import UrlPolicy
from vendors.base import VendorStatus
from vendors.catalog import Catalog, ModelEntry, load_catalog
from vendors.reference_image import ReferenceImage, fetch_reference_image
from vendors.transport import BodyParts, Phase, VendorHttp, phase_error

# Words vendors use in free-text failure reasons when their moderation refused a prompt or an output. Only
# used where a vendor has no machine-readable refusal code (Luma legacy, Replicate, Kling task messages).
_MODERATION_WORDS = re.compile(
    r"moderat|safety|nsfw|sensitive|content (?:policy|filter|checker|risk)|flagged|inappropriate"
    r"|prohibited|violat|public figure|risk control|E005",
    re.IGNORECASE,
)


def looks_like_moderation(reason: str) -> bool:
    return bool(_MODERATION_WORDS.search(reason))


_V = TypeVar("_V")


@dataclass(frozen=True)
class VendorOptions:
    """Per-call limits every adapter applies; ``from_settings`` is how the worker builds them."""

    connect_timeout_seconds: float = 10.0
    request_timeout_seconds: float = 60.0
    reference_image_max_bytes: int = 20 * 1024 * 1024
    reference_image_timeout_seconds: float = 20.0
    allow_private_urls: bool = False
    url_allowlist: frozenset[tuple[str, int]] = frozenset()
    max_concurrency: int | None = None  # None: the vendor's catalog figure

    @classmethod
    def from_settings(cls, settings: Settings) -> VendorOptions:
        return cls(
            connect_timeout_seconds=settings.vendor_connect_timeout_seconds,
            request_timeout_seconds=settings.vendor_request_timeout_seconds,
            reference_image_max_bytes=settings.reference_image_max_bytes,
            reference_image_timeout_seconds=settings.reference_image_fetch_timeout_seconds,
            allow_private_urls=settings.allow_private_urls,
            url_allowlist=UrlPolicy.from_settings(settings).allowlist,
        )

    def url_policy(self) -> UrlPolicy:
        return UrlPolicy(allow_private=self.allow_private_urls, allowlist=self.url_allowlist)

    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.request_timeout_seconds, connect=self.connect_timeout_seconds)


class VendorArgs(TypedDict, total=False):
    """The constructor keywords every HTTP adapter takes (``Unpack``-ed by adapters with extra arguments)."""

    base_url: str | None
    client: httpx.AsyncClient | None
    catalog: Catalog | None
    options: VendorOptions | None


class HttpVendor(ABC):
    """Base of the HTTP adapters. Subclasses set ``name`` and ``default_base_url``, say how the key travels
    (``auth_header``, ``auth_scheme``) and implement submit and poll."""

    name: str  # set by each subclass; the vendor id used in routes and the catalog
    default_base_url: str  # the vendor's production API; settings may point it at an emulator or proxy
    # The key goes in this header, after this scheme ("Authorization: Bearer <key>"); "" sends it bare.
    auth_header = "Authorization"
    auth_scheme = "Bearer"
    # How the vendor takes a reference image: inline as a data URI (most do) or as a URL it fetches.
    reference_image_form: ReferenceImageForm = "data_uri"
    idempotent_submit = False  # no paid vendor documents a deduplicating key (shared/vendors.md)

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        client: httpx.AsyncClient | None = None,
        catalog: Catalog | None = None,
        options: VendorOptions | None = None,
    ) -> None:
        self.api_key = api_key
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.options = options or VendorOptions()
        self.catalog = catalog or load_catalog()
        entry = self.catalog.vendor(self.name)
        concurrency = self.options.max_concurrency or (entry.max_concurrency if entry else 4)
        self.http = VendorHttp(
            self.name, client=client, timeout=self.options.timeout(), max_concurrency=concurrency
        )

    def _headers(self) -> dict[str, str]:
        """The headers that authenticate a call (every call sends them)."""
        return {self.auth_header: f"{self.auth_scheme} {self.api_key}" if self.auth_scheme else self.api_key}

    async def send(self, method: str, url: str, *, phase: Phase, **body: Unpack[BodyParts]) -> httpx.Response:
        """One call with our key: transport failures raise ``VendorError``; HTTP statuses are ours to read."""
        return await self.http.send(method, url, phase=phase, headers=self._headers(), **body)

    async def send_json(
        self, method: str, url: str, *, phase: Phase, **body: Unpack[BodyParts]
    ) -> dict[str, Any]:
        """One call with our key answering a JSON object; an HTTP error raises the generic ``VendorError``."""
        return await self.http.send_json(method, url, phase=phase, headers=self._headers(), **body)

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def same_origin(self, url: str) -> bool:
        """Whether ``url`` is on our configured host: we only send our key where we were told to."""
        ours, theirs = urlsplit(self.base_url), urlsplit(url)
        return (ours.scheme, ours.netloc) == (theirs.scheme, theirs.netloc)

    def model_entry(self, model: str) -> ModelEntry | None:
        return self.catalog.model(self.name, model)

    def wire_model(self, model: str, *, with_image: bool) -> str:
        entry = self.model_entry(model)
        return entry.wire_model_for(with_image) if entry else model

    def new_task(self, model: str, task_id: str, links: dict[str, str] | None = None) -> VendorTask:
        return VendorTask(
            vendor=self.name,
            model=model,
            task_id=task_id,
            submitted_at=datetime.now(UTC),
            links=links or {},
        )

    async def reference_image_bytes(self, spec: VideoSpec) -> ReferenceImage | None:
        if not spec.reference_image_url:
            return None
        limits = FetchLimits(
            max_bytes=self.options.reference_image_max_bytes,
            timeout_seconds=self.options.reference_image_timeout_seconds,
        )
        return await fetch_reference_image(spec.reference_image_url, self.options.url_policy(), limits)

    def missing_field(self, what: str, phase: Phase = "submit") -> VendorError:
        """A 2xx answer without the field the vendor documents: a protocol error, worth one retry.

        At submit it is ambiguous: the vendor accepted something we cannot identify.
        """
        message = f"{self.name}: {phase} answer has no {what}"
        return phase_error(ErrorCode.VENDOR_ERROR, message, phase, retryable=True, ambiguous=True)

    def known_state(self, states: Mapping[str, _V], status: str, phase: Phase, field: str = "status") -> _V:
        """``states[status]``; a status the vendor does not document is a protocol error."""
        if status not in states:
            raise self.missing_field(f"known {field} (got {status!r})", phase)
        return states[status]

    def failed_with_reason(self, reason: str) -> VendorStatus:
        """A task the vendor failed with only free text to say why (Luma's Dream Machine, Replicate, Kling).

        A refusal is recognised by its wording. None of these vendors documents whether it charges a refused
        task (unconfirmed), so a refusal is reported unbilled.
        """
        message = f"{self.name}: {reason}"
        if looks_like_moderation(reason):
            return VendorStatus(
                state="failed", error=ErrorInfo(code=ErrorCode.CONTENT_POLICY, message=message, billed=False)
            )
        return VendorStatus(state="failed", error=ErrorInfo(code=ErrorCode.VENDOR_ERROR, message=message))

    @abstractmethod
    async def submit(self, spec: VideoSpec, model: str, idempotency_key: str) -> VendorTask: ...

    @abstractmethod
    async def poll(self, task: VendorTask) -> VendorStatus: ...

    async def cancel(self, task: VendorTask) -> VendorCancel:
        return VendorCancel.UNSUPPORTED  # the vendors without a cancel endpoint

    def download_headers(self, task: VendorTask, url: str) -> dict[str, str]:
        return {}

    async def aclose(self) -> None:
        await self.http.aclose()
