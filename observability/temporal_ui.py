"""What the Temporal UI shows of a job besides its id: the workflow's static summary and details.

Set once, when the API starts the job (``jobs.service``), so an operator looking at a list or a workflow page
knows what the job is at a glance. Visibility data is not customer content: never the prompt, the
reference image or a webhook URL, only what the ``Infrai*`` search attributes already reveal plus the
shape of the request. (With payload encryption on, the UI shows them through the codec endpoint.)
"""

from __future__ import annotations

from core.models import JobInput


def job_summary(job: JobInput) -> str:
    """One line the Temporal UI shows for the job: what it is at a glance. Never the prompt (visibility
    data is not customer content), only what the search attributes already reveal and the spec's shape."""
    first, spec = job.route[0], job.spec
    image = " + image" if spec.has_reference_image else ""
    return (
        f"{first.vendor}/{first.model} · {spec.duration_seconds}s {spec.resolution.value} "
        f"{spec.aspect.value}{image} · {job.project_id}"
    )


def job_details(job: JobInput) -> str:
    """The UI's details panel (Markdown): the same facts and the whole route, one fallback per line."""
    spec = job.spec
    route = "\n".join(
        f"{rank}. {c.vendor}/{c.model} (est. ${c.estimated_cost_usd})"
        for rank, c in enumerate(job.route, start=1)
    )
    return (
        f"**project** {job.project_id}  \n**vendor** {job.route[0].vendor}  \n"
        f"**model** {job.route[0].model}  \n**duration** {spec.duration_seconds}s  \n"
        f"**resolution** {spec.resolution.value} ({spec.aspect.value})  \n"
        f"**reference image** {'yes' if spec.has_reference_image else 'no'}\n\n**route**\n{route}"
    )
