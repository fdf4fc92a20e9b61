"""Shapefiles uploaded as a zip: unpacked safely, and their text read in the encoding it was written in.

A ``.dbf`` says its encoding in a ``.cpg`` beside it, or in its language-driver byte (GDAL reads
both). Files from older Chinese desktop GIS often have neither: GDAL then reads GBK as Latin-1 and
stores mojibake (``ÕÅ¼ÒÔ°`` for 张家园). :func:`dbf_encoding` looks at the bytes instead: text that
is valid UTF-8 is UTF-8, text that is valid GB18030 (a superset of GBK and GB2312) is GB18030.
"""

import io
import os
import tempfile
import zipfile
from collections.abc import Callable

from gis.filebase import FileFormatError

# A zip may not unpack to more than this many times its own size (zip bombs).
MAX_ZIP_RATIO = 50
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
# DBF language-driver ids (byte 29) that GDAL maps itself; 0 means "not said".
_NOT_SAID = 0
# How much of the records the decoding check reads.
_SAMPLE = 2_000_000


def dbf_encoding(dbf: bytes, has_cpg: bool) -> str | None:
    """The encoding to read ``dbf`` with, when GDAL could not know it; None to let GDAL decide
    (a ``.cpg``, a language-driver byte, or plain ASCII text)."""
    if has_cpg or len(dbf) < 32 or dbf[29] != _NOT_SAID:
        return None
    header = int.from_bytes(dbf[8:10], "little")
    body = dbf[header : header + _SAMPLE]
    if body.isascii():
        return None
    try:
        body.decode("utf-8")
        return "UTF-8"
    except UnicodeDecodeError as e:
        if e.start > len(body) - 4:  # a character cut by the sample's end
            return "UTF-8"
    try:
        body.decode("gb18030")
        return "GB18030"
    except UnicodeDecodeError:
        return None


def read_zip(data: bytes, read: Callable[[str, str | None], object], encoding: str | None = None):
    """``read(path of the .shp, encoding)`` on the Shapefile unpacked from the zip ``data``.

    ``encoding``: what the user said the text is in; otherwise :func:`dbf_encoding` decides.
    """
    if not data.startswith(b"PK"):
        raise FileFormatError("a Shapefile must be uploaded as a .zip of its .shp, .shx, .dbf (and .prj)")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            members = [m for m in zf.infolist() if not m.is_dir()]
            if sum(m.file_size for m in members) > MAX_ZIP_RATIO * max(len(data), 1024 * 1024):
                raise FileFormatError("the zip unpacks to far more than its size; refused")
            shps = [
                m
                for m in members
                if m.filename.lower().endswith(".shp") and not os.path.basename(m.filename).startswith(".")
            ]
            if len(shps) != 1:
                raise FileFormatError(f"the zip must hold exactly one .shp file, not {len(shps)}")
            stem = os.path.splitext(shps[0].filename)[0]
            with tempfile.TemporaryDirectory(prefix="wuwei-shp-") as tmp:
                for m in members:
                    base, ext = os.path.splitext(m.filename)
                    if base == stem and ext.lower() in SHAPEFILE_PARTS:
                        with open(os.path.join(tmp, "layer" + ext.lower()), "wb") as fh:
                            fh.write(zf.read(m))
                missing = [e for e in (".shx", ".dbf") if not os.path.exists(os.path.join(tmp, "layer" + e))]
                if missing:
                    raise FileFormatError(f"the zip lacks the Shapefile part(s) {', '.join(missing)}")
                if encoding is None:
                    with open(os.path.join(tmp, "layer.dbf"), "rb") as fh:
                        encoding = dbf_encoding(fh.read(), os.path.exists(os.path.join(tmp, "layer.cpg")))
                return read(os.path.join(tmp, "layer.shp"), encoding)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as e:
        raise FileFormatError(f"not a readable zip file: {e}") from None
    except (OSError, RuntimeError) as e:  # CRC errors, encrypted members
        raise FileFormatError(f"not a readable zip file: {e}") from None
