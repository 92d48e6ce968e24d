"""Making a job: route, cost estimate, credit hold, reference image, start; or finding the job an
idempotency key already names. Every API dialect that makes jobs (``/v1/video/generate``, the
OpenAI-compatible ``/v1/videos``) comes through ``JobCreator.create``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from accounts.errors import (
    BudgetExceeded,
    HoldConflict,
    HoldOfDeletedJob,
    HoldSettled,
    InsufficientCredits,
)
from accounts.ledger import Attribution
from accounts.store import AccountStore
from core.guarded_fetch import FetchedImage
from core.ids import job_id_for_key, new_job_id
from core.models import (
    DEFAULT_WEBHOOK_EVENTS,
    JobInput,
    JobState,
    Prefer,
    RouteCandidate,
    VideoSpec,
    WebhookTarget,
)
from core.settings import Settings
from core.url_safety import UnsafeUrl, parse_allowlist
from core.webhook_targets import vet_webhook_url
from jobs.errors import (
    IdempotencyKeySpent,
    JobConflict,
    JobDeleted,
    JobError,
    Unroutable,
    UnsafeInputUrl,
)
from jobs.reference_intake import fetch_reference_image, with_stored_reference
from jobs.service import JobService, StartedJob
from storage import MediaStorage
from vendors.catalog import Catalog
from vendors.router import NoRouteError, plan_route


@dataclass(frozen=True)
class JobRequest:
    """What a client asked for, parsed by the API: the video, how to route it, where to report it.

    ``fingerprint`` identifies the request's content (the API's canonical form of its body);
    ``idempotency_key`` is the one key the request carried, if any."""

    spec: VideoSpec
    fingerprint: str
    prefer: Prefer = Prefer.BALANCED
    vendor: str | None = None
    model: str | None = None
    idempotency_key: str | None = None
    webhook_url: str | None = None
    webhook_events: tuple[str, ...] | None = None
    deadline_seconds: int | None = None


@dataclass(frozen=True)
class PreparedJob:
    """A request that passed every check (``JobCreator.prepare``), ready for its hold and start."""

    request: JobRequest
    route: list[RouteCandidate]
    webhook: WebhookTarget | None
    image: FetchedImage | None


@dataclass(frozen=True, eq=False)  # a per-request holder of references: identity is its equality
class JobCreator:
    """Starts jobs; holds only references to the long-lived services it uses."""

    jobs: JobService
    accounts: AccountStore
    storage: MediaStorage
    catalog: Catalog
    configured: set[str]
    settings: Settings

    async def create(self, request: JobRequest, project_id: str, key_id: str | None = None) -> StartedJob:
        """Start the job ``request`` asks for, or find the one its idempotency key already names.
        ``key_id`` is the API key asking: its budget applies too, and the job's charge is attributed to it."""
        key = request.idempotency_key
        job_id = job_id_for_key(project_id, key) if key else new_job_id()
        # Whether the job was deleted: asked first by a keyed request whose checks reach out (a webhook URL
        # to resolve, a reference image to fetch); a plain one is told by its hold, in the same transaction.
        asked_first = key is not None and self._reaches_out(request)
        if asked_first:
            replayed = await self._replay(request, project_id, job_id)
            if replayed is not None:
                return replayed
        try:
            # No look-up first, even with a key: the hold is keyed by job id (a repeat holds nothing more)
            # and the start finds the existing workflow if there is one, then compares fingerprints.
            return await self._start(request, project_id, job_id, key_id, key is not None and not asked_first)
        except (JobConflict, JobDeleted):
            raise
        except JobError:
            # Refused before the start (no route any more, a reference URL that stopped resolving, ...):
            # a repeat of a request that did start a job still gets that job, unless it was deleted.
            if not key:
                raise
            if not asked_first and await self.jobs.deleted_among([job_id]):
                raise JobDeleted(job_id) from None
            existing = await self.jobs.find_existing(job_id, project_id, request.fingerprint)
            if existing is None:
                raise
            return existing

    @staticmethod
    def _reaches_out(request: JobRequest) -> bool:
        return request.webhook_url is not None or request.spec.reference_image_url is not None

    async def _replay(self, request: JobRequest, project_id: str, job_id: str) -> StartedJob | None:
        """What a keyed request answers before anything is fetched or held: ``JobDeleted`` when its job
        was deleted (a status of it is not found too; found nowhere else once Temporal removes the
        execution), and with a reference image the job it already started, so a replay neither fetches the
        customer's URL again nor writes over the copy the job renders from. Otherwise None: go on and start
        (or find) it."""
        if await self.jobs.deleted_among([job_id]):
            raise JobDeleted(job_id)
        if request.spec.reference_image_url is None:
            return None  # nothing to refetch: the start itself finds an existing job (no extra round trip)
        return await self.jobs.find_existing(job_id, project_id, request.fingerprint)

    async def _start(
        self, request: JobRequest, project_id: str, job_id: str, key_id: str | None, unless_deleted: bool
    ) -> StartedJob:
        prepared = await self.prepare(request, project_id)
        try:
            route = await self._hold_for_route(
                project_id, job_id, prepared.route, request.fingerprint, key_id, unless_deleted
            )
        except HoldOfDeletedJob:
            raise JobDeleted(job_id) from None
        except HoldConflict:
            # Of concurrent requests under one key, only the one whose body was held can start the job.
            raise JobConflict(job_id) from None
        except HoldSettled:
            # The job this key names already ended (a concurrent twin of this request finished it), or its
            # hold was released because it never started: only an existing job can be answered.
            existing = await self.jobs.find_existing(job_id, project_id, request.fingerprint)
            if existing is None:
                raise IdempotencyKeySpent(job_id) from None
            return existing
        return await self.launch(prepared, project_id, job_id, route)

    async def prepare(self, request: JobRequest, project_id: str) -> PreparedJob:
        """Every check a request passes before credits are held: its webhook URL, its route, its reference
        image (fetched). Raises the ``JobError`` of the first that fails."""
        webhook = await self._webhook_target(request, project_id)
        route = self._route(request)
        image = await fetch_reference_image(request.spec.reference_image_url, self.settings)
        return PreparedJob(request=request, route=route, webhook=webhook, image=image)

    async def launch(
        self, prepared: PreparedJob, project_id: str, job_id: str, route: list[RouteCandidate]
    ) -> StartedJob:
        """Start the job of a prepared request whose credits are held (or find it, if it started)."""
        # Stored only once every check passed and credits are held: a refused request leaves nothing behind.
        spec = await with_stored_reference(
            prepared.request.spec, prepared.image, self.storage, project_id, job_id
        )
        job = JobInput(
            job_id=job_id,
            project_id=project_id,
            spec=spec,
            route=route,
            created_at=datetime.now(UTC),
            timings=self.settings.job_timings(),
            webhook=prepared.webhook,
            deadline_seconds=prepared.request.deadline_seconds,
        )
        return await self.jobs.start(job, prepared.request.fingerprint)

    def _route(self, request: JobRequest) -> list[RouteCandidate]:
        try:
            return plan_route(
                request.spec,
                request.prefer,
                request.vendor,
                request.model,
                self.catalog,
                self.configured,
                today=self.settings.model_lifecycle_date,
            )
        except NoRouteError as err:
            raise Unroutable(err) from None

    async def _hold_for_route(
        self,
        project_id: str,
        job_id: str,
        route: list[RouteCandidate],
        fingerprint: str,
        key_id: str | None,
        unless_deleted: bool = False,
    ) -> list[RouteCandidate]:
        """Hold credits for the dearest candidate the job may fail over to, so a failover never settles
        above the hold. A project that can't cover every candidate (credits, or what its budgets have left)
        keeps the ones it can, in route order, as long as the first is among them; otherwise
        InsufficientCredits or BudgetExceeded (the API's 402s, formatted by the accounts error handlers).
        Holds are keyed by job id and carry the request's fingerprint: a retry never holds twice, and a
        different body under the same key is a HoldConflict; ``unless_deleted``: a deleted job's id is a
        HoldOfDeletedJob.
        """
        # The first candidate is the one that runs unless it fails: the usage report's vendor and model
        # until the charge names the one that did (accounts.ledger).
        attribution = Attribution(key_id=key_id, vendor=route[0].vendor, model=route[0].model)

        async def hold_dearest_of(candidates: list[RouteCandidate]) -> list[RouteCandidate]:
            dearest = max(c.estimated_cost_usd for c in candidates)
            await self.accounts.hold(
                project_id,
                job_id,
                dearest,
                request=fingerprint,
                attribution=attribution,
                unless_deleted=unless_deleted,
            )
            return candidates

        try:
            return await hold_dearest_of(route)
        except (InsufficientCredits, BudgetExceeded) as err:
            room = err.available if isinstance(err, InsufficientCredits) else err.violation.remaining
            affordable = [c for c in route if c.estimated_cost_usd <= room]
            if not affordable or affordable[0] is not route[0]:
                raise
        return await hold_dearest_of(affordable)

    async def _webhook_target(self, request: JobRequest, project_id: str) -> WebhookTarget | None:
        if request.webhook_url is None:
            return None
        try:
            await vet_webhook_url(
                request.webhook_url,
                allowlist=parse_allowlist(self.settings.url_allowlist.split(",")),
                allow_private=self.settings.allow_private_urls,
            )
        except UnsafeUrl as err:
            raise UnsafeInputUrl("webhook_url", err.message, err.reason) from None
        # Made now rather than at the first delivery, so the project can read it before any webhook arrives.
        await self.accounts.webhook_secret(project_id)
        events = [JobState(event) for event in request.webhook_events or DEFAULT_WEBHOOK_EVENTS]
        return WebhookTarget(url=request.webhook_url, events=list(dict.fromkeys(events)))
