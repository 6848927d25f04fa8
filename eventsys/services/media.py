"""Uploaded files: speaker photos (checked to be images, re-encoded) and session materials.

Files live under ``FILES_DIR`` with names we make (a content hash or a random token), never
the uploader's: a name cannot climb out of the directory or overwrite another file, and a
photo is served as the JPEG we wrote, not as whatever bytes were sent.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import secrets
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from PIL import Image, UnidentifiedImageError

from eventsys.services.errors import ServiceError

MAX_PHOTO_BYTES = 8 * 1024 * 1024
MAX_PHOTO_PIXELS = 40_000_000  # decompression bombs stop here
PHOTO_SIZE = 800  # longest side, pixels
MAX_MATERIAL_BYTES = 25 * 1024 * 1024
MATERIAL_TYPES = {
    ".pdf": "application/pdf",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".ppt": "application/vnd.ms-powerpoint",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".doc": "application/msword",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".odp": "application/vnd.oasis.opendocument.presentation",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".txt": "text/plain",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".zip": "application/zip",
}
_STORED_NAME = re.compile(r"^[A-Za-z0-9_-]{16,64}(\.[a-z0-9]{1,5})?$")


def _dir(kind: str) -> Path:
    path = Path(current_app.config["FILES_DIR"]) / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


def stored_file(kind: str, name: str | None) -> Path | None:
    """A file we stored under FILES_DIR/<kind> by a name we made; None when the name is not
    one of ours or the file is gone."""
    if not _STORED_NAME.match(name or ""):
        return None
    path = _dir(kind) / name
    return path if path.is_file() else None


def write_file(kind: str, name: str, data: bytes) -> Path:
    """Store ``data`` as FILES_DIR/<kind>/<name>, atomically."""
    if not _STORED_NAME.match(name):
        raise ValueError(f"not a stored file name: {name!r}")
    path = _dir(kind) / name
    _write(path, data)
    return path


def _write(path: Path, data: bytes) -> None:
    """Atomically: a reader never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def store_photo(data: bytes) -> str:
    """Check that ``data`` is an image of sane size, re-encode it as a JPEG of at most
    800 px, store it; its file name."""
    if not data:
        raise ServiceError(_("The photo is empty."))
    if len(data) > MAX_PHOTO_BYTES:
        raise ServiceError(_("The photo is too large (at most 8 MB)."))
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.width * probe.height > MAX_PHOTO_PIXELS:
                raise ServiceError(_("The photo has too many pixels."))
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            image = image.convert("RGB")
            image.thumbnail((PHOTO_SIZE, PHOTO_SIZE))
            out = io.BytesIO()
            image.save(out, "JPEG", quality=85, optimize=True)
    except ServiceError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError,
            Image.DecompressionBombError) as exc:
        raise ServiceError(_("That file is not an image we can read (JPEG, PNG, WebP, GIF)."))\
            from exc
    jpeg = out.getvalue()
    name = hashlib.sha256(jpeg).hexdigest()[:32] + ".jpg"
    path = _dir("photos") / name
    if not path.exists():
        _write(path, jpeg)
    return name


def photo_path(name: str) -> Path | None:
    return stored_file("photos", name)


@dataclass
class StoredFile:
    stored_name: str
    filename: str
    content_type: str
    size: int
    sha256: str


def clean_filename(filename: str) -> str:
    """What we show and offer as the download name: letters, digits, dots, dashes."""
    name = unicodedata.normalize("NFKC", Path(filename or "").name)
    name = re.sub(r"[^\w.\- ]+", "_", name, flags=re.UNICODE).strip(" ._") or "file"
    return name[-120:]


def store_material(filename: str, data: bytes) -> StoredFile:
    clean = clean_filename(filename)
    suffix = Path(clean).suffix.lower()
    if suffix not in MATERIAL_TYPES:
        raise ServiceError(_("Upload a PDF, a presentation, a document, a spreadsheet, an "
                             "image, a text file or a ZIP."))
    if not data:
        raise ServiceError(_("The file is empty."))
    if len(data) > MAX_MATERIAL_BYTES:
        raise ServiceError(_("The file is too large (at most 25 MB)."))
    stored = secrets.token_urlsafe(24) + suffix
    _write(_dir("materials") / stored, data)
    return StoredFile(stored, clean, MATERIAL_TYPES[suffix], len(data),
                      hashlib.sha256(data).hexdigest())


def material_path(stored_name: str) -> Path | None:
    return stored_file("materials", stored_name)


def remove_material(stored_name: str) -> None:
    path = material_path(stored_name)
    if path is not None:
        path.unlink(missing_ok=True)
