"""Celery worker entry point: ``celery -A workers worker`` (and ``celery -A workers beat``).

The worker builds the same Flask app as the web server, so tasks run services with the
same configuration and database.
"""

from eventsys import create_app

flask_app = create_app()
celery = flask_app.extensions["celery"]
celery.loader.import_default_modules()
