"""The images of certificate templates: logos, backgrounds and signatures.

An upload is checked to be a PNG or JPEG of sane size, decoded and written anew with
Pillow (what WeasyPrint reads is always an image we encoded, never the bytes that were
sent), scaled down to what print needs, and stored under ``FILES_DIR/certificate-images``
by the hash of its content: the same picture uploaded twice is one file, and a name cannot
climb out of the directory. A logo or a signature keeps its transparency (PNG); a
background without transparency becomes a JPEG, a tenth of the size.
"""

from __future__ import annotations

import hashlib
import io

from flask_babel import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from eventsys.services import media
from eventsys.services.errors import ServiceError

FILES = "certificate-images"
MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000  # decompression bombs stop here
# The most pixels (width, height) print needs: the design prints a logo at most 17 mm
# high and 55 mm wide, a signature 15 mm by 50 mm, at 300 dpi; a background covers the
# page (2400 px is 200 dpi on A4, plenty for a pale picture). Every certificate carries
# its own copy of each image, and WeasyPrint encodes it anew for each: pixels that print
# nothing would cost every certificate time and size.
MAX_SIZE = {"logo": (660, 200), "signature": (600, 180), "background": (2400, 2400)}
FORMATS = {"PNG", "JPEG"}


def store(data: bytes, role: str) -> str:
    """Check, re-encode and store an uploaded image for ``role`` (logo, signature or
    background); its stored name. ServiceError, in words for the organiser, otherwise."""
    if role not in MAX_SIZE:
        raise ValueError(role)
    if not data:
        raise ServiceError(_("The image is empty."))
    if len(data) > MAX_BYTES:
        raise ServiceError(_("The image is too large (at most 5 MB)."))
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in FORMATS:
                raise ServiceError(_("Upload a PNG or a JPEG image."))
            if probe.width * probe.height > MAX_PIXELS:
                raise ServiceError(_("The image has too many pixels."))
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            image = ImageOps.exif_transpose(image)
            has_alpha = image.mode in ("RGBA", "LA", "PA") or (
                image.mode == "P" and "transparency" in image.info)
            image = image.convert("RGBA" if has_alpha else "RGB")
            image.thumbnail(MAX_SIZE[role], Image.Resampling.LANCZOS)
            out = io.BytesIO()
            if has_alpha or role != "background":
                image.save(out, "PNG", optimize=True)
                suffix = ".png"
            else:
                image.save(out, "JPEG", quality=85, optimize=True, progressive=False)
                suffix = ".jpg"
    except ServiceError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError,
            Image.DecompressionBombError) as exc:
        raise ServiceError(_("That file is not an image we can read (PNG or JPEG).")) from exc
    encoded = out.getvalue()
    name = hashlib.sha256(encoded).hexdigest()[:32] + suffix
    if media.stored_file(FILES, name) is None:
        media.write_file(FILES, name, encoded)
    return name


def read(name: str | None) -> bytes | None:
    """The bytes of a stored image, or None when the name is not one of ours or the file
    is gone."""
    path = media.stored_file(FILES, name)
    return path.read_bytes() if path is not None else None


def path(name: str | None):
    return media.stored_file(FILES, name)
