"""WSGI entry point for production servers: ``gunicorn wsgi:app``."""

from eventsys import create_app

app = create_app()
