"""Flask-WTF forms: every POST carries a CSRF token, every field a length limit."""

from flask_wtf import FlaskForm


class ActionForm(FlaskForm):
    """A form with no fields: a CSRF-protected button (log out, publish, retry)."""
