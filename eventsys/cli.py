"""The ``eventsys`` command: Flask's CLI group with our commands added.

``eventsys db upgrade`` comes from Flask-Migrate; ``create-admin``, ``seed-demo`` and ``run``
are ours.
"""

from __future__ import annotations

import logging
from datetime import date

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from eventsys import create_app


@click.group(cls=FlaskGroup, create_app=create_app, add_default_commands=False,
             add_version_option=False)
def main() -> None:
    """eventsys: events, registrations, agendas, attendance and certificates."""


@main.command("create-admin")
@click.option("--email", prompt=True)
@click.option("--name", prompt=True, default="Administrator", show_default=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@with_appcontext
def create_admin(email: str, name: str, password: str) -> None:
    """Create a site admin account, or make an existing account admin."""
    from eventsys.services import accounts
    from eventsys.services.errors import ServiceError

    try:
        user = accounts.create_admin(email, name, password)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"Admin account ready: {user.email}")


@main.command("seed-demo")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Pretend today is this day (upcoming demo events are dated from it).")
@with_appcontext
def seed_demo(today) -> None:
    """Load the demo events, organisations and people. Running it again changes nothing."""
    from eventsys.services import demo

    if current_app.config["ENVIRONMENT"] == "production":
        raise click.ClickException("seed-demo loads demo accounts; it does not run in production.")
    summary = demo.seed_demo(today.date() if today else date.today())
    for line in summary:
        click.echo(line)


@main.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@click.option("--no-worker", is_flag=True, help="Do not start the embedded Celery worker.")
@with_appcontext
def run(host: str, port: int, threads: int, no_worker: bool) -> None:
    """Serve the web app (waitress) with an embedded Celery worker in the same process."""
    from waitress import serve

    app = current_app._get_current_object()
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The embedded worker's routine task lines would drown the server's own messages.
    logging.getLogger("celery").setLevel(logging.WARNING)
    worker = None
    if not no_worker:
        # The composition root is the one place the app package reaches up into workers/.
        from workers.embedded import EmbeddedWorker

        worker = EmbeddedWorker(app.extensions["celery"], app.config["OUTBOX_SWEEP_SECONDS"])
        worker.start()
    click.echo(f"eventsys serving at http://{host}:{port}/ (mail: "
               f"{app.config['SMTP_URL'] or app.config['MAIL_DIR']})")
    try:
        serve(app, host=host, port=port, threads=threads, ident="eventsys")
    finally:
        if worker is not None:
            worker.stop()
