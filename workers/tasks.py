"""Thin, idempotent tasks: take ids, call a service, return a small summary.

Idempotency lives in the services (outbox status and lease), so a task delivered twice, or
a batch re-run, sends nothing twice.
"""

from celery import shared_task

from eventsys.services import agenda_pdf, certificates, invitations, jobs, mailings, messaging

# Importing them registers their job handlers and mail context builders.
__all__ = ["certificates", "invitations", "mailings"]


@shared_task(name="eventsys.deliver_outbox")
def deliver_outbox(message_ids: list[int]) -> dict:
    return messaging.deliver(message_ids).as_dict()


@shared_task(name="eventsys.sweep_outbox")
def sweep_outbox() -> dict:
    """Periodic: jobs a lost announcement or a dead worker left, then mail likewise."""
    return {"jobs": jobs.sweep(), **messaging.sweep().as_dict()}


@shared_task(name="eventsys.run_job")
def run_job(job_ids: list[int]) -> list[dict]:
    return [jobs.run(job_id) for job_id in job_ids]


@shared_task(name="eventsys.render_agenda_pdf")
def render_agenda_pdf(event_id: int, version: int) -> dict:
    return agenda_pdf.render(event_id, version)


@shared_task(name="eventsys.issue_certificates")
def issue_certificates(job_id: int) -> dict:
    """Several of these share one job, each taking the next batch (see the service)."""
    return certificates.work(job_id)
