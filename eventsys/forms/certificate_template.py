"""The organiser's certificate design form: the texts with placeholders, the page size, the
logos, the background and the signatories with their signature images.

The texts' rules (placeholders, lengths) live in ``certificate_render.text_problems``, one
place shared with saving; the images are checked and re-encoded by
``certificate_images.store``. The form reads them."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import BooleanField, FormField, HiddenField, SelectField, StringField, TextAreaField
from wtforms import Form as PlainForm
from wtforms.validators import InputRequired, Length, Optional

from eventsys.forms import Form, RowList, fields
from eventsys.forms.registration import MultiCheckboxField
from eventsys.models import CertificateTemplate
from eventsys.models.certificate import PAGE_SIZES
from eventsys.services import certificate_images
from eventsys.services.certificate_render import (
    MAX_LENGTHS,
    MAX_SIGNATORIES,
    Signatory,
    TemplateChanges,
)

PAGE_SIZE_LABELS = {
    "A4 landscape": _l("A4, landscape"),
    "A4 portrait": _l("A4, portrait"),
    "Letter landscape": _l("US Letter, landscape"),
    "Letter portrait": _l("US Letter, portrait"),
}
IMAGE_HELP = _l("PNG or JPEG, at most 5 MB.")


def _read(field) -> bytes | None:
    """The uploaded file's bytes, read up to one byte past the limit (so that a larger
    one is refused by size, not read whole), or None when no file was chosen."""
    storage = field.data
    if storage is None or isinstance(storage, str) or not getattr(storage, "filename", ""):
        return None
    return storage.read(certificate_images.MAX_BYTES + 1)


class SignatoryForm(PlainForm):
    name = StringField(_l("Name"), validators=[Optional(), Length(max=120)])
    title = StringField(_l("Title"), validators=[Optional(), Length(max=200)],
                        description=_l("Position and organisation, on one line."))
    signature = HiddenField()  # the stored image kept, checked against the template's
    new_signature = FileField(_l("Signature image"), description=IMAGE_HELP)
    remove_signature = BooleanField(_l("Remove the signature image"))


class CertificateTemplateForm(Form):
    heading = StringField(_l("Heading"), validators=[
        InputRequired(), Length(max=MAX_LENGTHS["heading"])])
    body = TextAreaField(_l("Text"), validators=[
        InputRequired(), Length(max=MAX_LENGTHS["body"])], render_kw={"rows": 5},
        description=_l("Printed under the holder's name. A blank line starts a new "
                       "paragraph."))
    footer = TextAreaField(_l("Footnote"), validators=[
        Optional(), Length(max=MAX_LENGTHS["footer"])], render_kw={"rows": 2},
        description=_l("Small print at the foot of the page, for example the organisers."))
    page_size = SelectField(_l("Page size"),
                            choices=fields.choices((s, PAGE_SIZE_LABELS[s]) for s in PAGE_SIZES))
    remove_logos = MultiCheckboxField(_l("Remove"), choices=[])
    new_logo = FileField(_l("Add a logo"), description=IMAGE_HELP)
    new_background = FileField(_l("Background image"), description=_l(
        "PNG or JPEG, at most 5 MB, covering the whole page: keep it pale, the text is "
        "printed over it."))
    remove_background = BooleanField(_l("Remove the background image"))
    signatories = RowList(FormField(SignatoryForm), min_entries=MAX_SIGNATORIES,
                          max_entries=MAX_SIGNATORIES)

    def __init__(self, template: CertificateTemplate, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.template = template
        self.remove_logos.choices = [(name, name) for name in template.logos or []]

    @classmethod
    def of(cls, template: CertificateTemplate) -> CertificateTemplateForm:
        stored = list(template.signatories or [])
        rows = [{"name": s.get("name") or "", "title": s.get("title") or "",
                 "signature": s.get("signature") or ""} for s in stored]
        rows += [{}] * (MAX_SIGNATORIES - len(rows))
        return cls(template, formdata=None, heading=template.heading, body=template.body,
                   footer=template.footer or "", page_size=template.page_size,
                   signatories=rows[:MAX_SIGNATORIES])

    def changes(self) -> TemplateChanges:
        kept = {s.get("signature") for s in self.template.signatories or []} - {None}
        signatories = []
        for row in self.signatories:
            signature = row.form.signature.data or None
            signatories.append(Signatory(
                name=row.form.name.data or "", title=row.form.title.data or "",
                # Only a signature this template already has: the hidden field is not
                # a way to print another event's image.
                signature=signature if signature in kept else None,
                new_signature=_read(row.form.new_signature),
                remove_signature=bool(row.form.remove_signature.data)))
        return TemplateChanges(
            heading=self.heading.data or "", body=self.body.data or "",
            footer=self.footer.data or "", page_size=self.page_size.data,
            remove_logos=frozenset(self.remove_logos.data or ()),
            new_logo=_read(self.new_logo), new_background=_read(self.new_background),
            remove_background=bool(self.remove_background.data), signatories=signatories)
