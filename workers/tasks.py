"""Thin, idempotent tasks: take ids, call a service, return a small summary.

Idempotency lives in the services (outbox status and lease), so a task delivered twice, or
a batch re-run, sends nothing twice.
"""

from celery import shared_task

from eventsys.services import agenda_pdf, messaging


@shared_task(name="eventsys.deliver_outbox")
def deliver_outbox(message_ids: list[int]) -> dict:
    return messaging.deliver(message_ids).as_dict()


@shared_task(name="eventsys.sweep_outbox")
def sweep_outbox() -> dict:
    return messaging.sweep().as_dict()


@shared_task(name="eventsys.render_agenda_pdf")
def render_agenda_pdf(event_id: int, version: int) -> dict:
    return agenda_pdf.render(event_id, version)
