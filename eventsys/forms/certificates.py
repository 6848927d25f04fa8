"""Certificate forms: who gets each kind (the rule), the organiser's word on one participant,
and revoking or re-issuing one certificate."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField, ValidationError
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from eventsys.forms import Form, fields
from eventsys.models import ID_MAX
from eventsys.services.certificates import NOTE_LIMIT, Rule


class SessionsField(SelectMultipleField):
    """Sessions as a list of checkboxes, their ids read strictly (ASCII digits only)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def process_formdata(self, valuelist):
        self.data = []
        for value in valuelist:
            if not (value.isascii() and value.isdigit() and len(value) <= 10):
                raise ValueError(self.gettext("Invalid choice(s): one or more data inputs "
                                              "could not be coerced."))
            self.data.append(int(value))


class RuleForm(Form):
    enabled = BooleanField(_l("This event gives this certificate"), default=True)
    min_rate = fields.WholeNumberField(
        _l("Attendance rate at least (%)"),
        validators=[Optional(), NumberRange(1, 100, message=_l(
            "The attendance rate must be between %(min)d and %(max)d %%."))],
        message=_l("Enter the rate as a whole number of per cent, for example 80."),
        description=_l("Leave empty when attendance does not matter. The rate is worked "
                       "out by the rule on the attendance page."),
        render_kw={"inputmode": "numeric"})
    sessions = SessionsField(_l("And attended each of these sessions"), coerce=int,
                             choices=[], validate_choice=False)
    spoke = BooleanField(_l("Spoke in a session (speaker, moderator, panellist or "
                            "discussant, matched by email address)"))
    confirmed = BooleanField(_l("Only speakers with a confirmed registration (otherwise "
                                "everyone in the programme)"))

    def __init__(self, *args, sessions: dict[int, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.sessions.choices = fields.choices((sessions or {}).items())
        self._known = set(sessions or {})

    def validate_sessions(self, field) -> None:
        if any(s not in self._known for s in field.data or ()):
            raise ValidationError(_l("Choose sessions of this event's programme."))

    @classmethod
    def for_rule(cls, rule: Rule, enabled: bool, sessions: dict[int, str]) -> RuleForm:
        return cls(formdata=None, sessions=sessions, data={
            "enabled": enabled, "min_rate": rule.min_rate, "sessions": list(rule.sessions),
            "spoke": rule.spoke, "confirmed": rule.confirmed})

    def rule(self, kind: str) -> Rule:
        return Rule(confirmed=bool(self.confirmed.data) if kind == "speaker" else True,
                    min_rate=self.min_rate.data, sessions=tuple(self.sessions.data or ()),
                    spoke=bool(self.spoke.data) or kind == "speaker")


DECISIONS = (("rule", _l("Follow the rule")), ("include", _l("Include")),
             ("exclude", _l("Exclude")))


class OverrideForm(Form):
    registration = fields.WholeNumberField(validators=[DataRequired(), NumberRange(1, ID_MAX)])
    decision = SelectField(_l("Decision"), choices=fields.choices(DECISIONS))
    note = StringField(_l("Note"), validators=[Optional(), Length(max=NOTE_LIMIT)],
                       description=_l("Why, for the record (shown to organisers only)."))

    def include(self) -> bool | None:
        return {"include": True, "exclude": False}.get(self.decision.data)


class RevokeForm(Form):
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=NOTE_LIMIT)],
                         description=_l("Shown on the verification page."))


class ReissueForm(Form):
    reason = StringField(_l("Reason (optional)"),
                         validators=[Optional(), Length(max=NOTE_LIMIT)],
                         description=_l("Shown on the old certificate's verification page; "
                                        "by default it says what was corrected."))
