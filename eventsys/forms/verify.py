"""The public verification page's upload: a PDF to compare with the issued certificate."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired

from eventsys.forms import Form
from eventsys.services.verification import MAX_PDF_BYTES


class CheckPdfForm(Form):
    file = FileField(_l("Certificate file (PDF)"),
                     validators=[FileRequired(_l("Choose the certificate's PDF file."))],
                     description=_l("At most %(mb)d MB. The file is compared with the one we "
                                    "issued and is not kept.",
                                    mb=MAX_PDF_BYTES // (1024 * 1024)),
                     render_kw={"accept": "application/pdf,.pdf"})
