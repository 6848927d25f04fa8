"""Business rules. No ``request`` and no ``flask.g`` in here: the same function serves a
web page, the JSON API, the CLI and a Celery task."""
