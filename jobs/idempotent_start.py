"""The one way jobs and batches start their workflow: under an id derived from the request, at most once."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import TypedSearchAttributes, WorkflowIDConflictPolicy, WorkflowIDReusePolicy


async def start_idempotent(
    client: Client,
    workflow: str,
    arg: object,
    *,
    workflow_id: str,
    task_queue: str,
    memo: Mapping[str, object],
    rpc_timeout: timedelta,
    search_attributes: TypedSearchAttributes | None = None,
    summary: str | None = None,
    details: str | None = None,
) -> WorkflowHandle[Any, Any]:
    """Start ``workflow`` as ``workflow_id``. A retried request meets the execution its first try started:
    a running one is used as it is (no error; the start response says ``started`` false), a closed one is
    never started again (``WorkflowAlreadyStartedError``)."""
    return await client.start_workflow(
        workflow,
        arg,
        id=workflow_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        memo=memo,
        search_attributes=search_attributes,
        static_summary=summary,
        static_details=details,
        rpc_timeout=rpc_timeout,
    )
