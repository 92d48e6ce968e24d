"""Hard budgets: the project's and each key's spend caps (per UTC day and month) and concurrency cap.

- ``GET /v1/account/budgets``: the project's budget and every active key's, with what counts against
  them now.
- ``PUT /v1/account/budgets`` sets the project's; ``GET`` / ``PUT /v1/account/keys/{key_id}/budget`` one
  key's (another project's key is ``404``). A PUT replaces the whole budget: a field left out or null
  removes that cap.

The caps are enforced when a job's credits are held (``accounts.budgets``): a job that would pass a
spend cap is ``402 budget_exceeded``, one past a concurrency cap ``429 concurrency_limit_exceeded``
(``api.domain_problems``). Any key of the project may read and set every budget: a key's cap bounds what
a script or a leaked key can spend, it is not a permission.
"""

from __future__ import annotations

from fastapi import APIRouter

from accounts.errors import KeyNotFound, ProjectNotFound
from api.account_schemas import Budget, BudgetCaps, Budgets
from api.deps import AccountsDep, CurrentProject
from api.problems import ProblemError, problem_responses
from core.errors import ErrorCode

router = APIRouter(tags=["accounts"])

_PROBLEMS = problem_responses(401, 503)
_NO_KEY = {404: "The project has no key with this id."}


def _gone() -> ProblemError:
    return ProblemError(404, ErrorCode.NOT_FOUND, "The project no longer exists.")


def _no_key(key_id: str) -> ProblemError:
    return ProblemError(404, ErrorCode.NOT_FOUND, f"No key {key_id!r} in this project.")


@router.get("/v1/account/budgets", responses=_PROBLEMS)
async def read_budgets(project: CurrentProject, accounts: AccountsDep) -> Budgets:
    """The project's budget, then each active key's."""
    try:
        project_view, *key_views = await accounts.budget_book().all(project.project_id)
    except ProjectNotFound as error:
        raise _gone() from error
    return Budgets(project=Budget.of(project_view), keys=[Budget.of(view) for view in key_views])


@router.put("/v1/account/budgets", responses=problem_responses(400, 401, 422, 503))
async def set_project_budget(body: BudgetCaps, project: CurrentProject, accounts: AccountsDep) -> Budget:
    """Replace the project's caps."""
    try:
        return Budget.of(await accounts.budget_book().set(project.project_id, None, body.caps()))
    except ProjectNotFound as error:
        raise _gone() from error


@router.get("/v1/account/keys/{key_id}/budget", responses=problem_responses(401, 422, 503, described=_NO_KEY))
async def read_key_budget(key_id: str, project: CurrentProject, accounts: AccountsDep) -> Budget:
    try:
        return Budget.of(await accounts.budget_book().get(project.project_id, key_id))
    except (KeyNotFound, ProjectNotFound) as error:
        raise _no_key(key_id) from error


@router.put(
    "/v1/account/keys/{key_id}/budget", responses=problem_responses(400, 401, 422, 503, described=_NO_KEY)
)
async def set_key_budget(
    key_id: str, body: BudgetCaps, project: CurrentProject, accounts: AccountsDep
) -> Budget:
    """Replace one key's caps; they apply on top of the project's."""
    try:
        return Budget.of(await accounts.budget_book().set(project.project_id, key_id, body.caps()))
    except (KeyNotFound, ProjectNotFound) as error:
        raise _no_key(key_id) from error
