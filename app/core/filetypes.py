"""Our own table of file types: extensions, and the family each type belongs to.

Why our own: `mimetypes` reads the platform's tables, so CPython on the server
and Pyodide in the browser would disagree. The browser and the server must
reach the same verdict on the same file, so the table lives here, in code.

A *family* groups types whose content can stand for one another. A file is
suspicious when its content belongs to a different family than its name
claims (a Windows program named photo.png), not when a PNG is named .jpg.
"""

from __future__ import annotations

OCTET_STREAM = "application/octet-stream"

_OOXML = "application/vnd.openxmlformats-officedocument."
_ODF = "application/vnd.oasis.opendocument."

EXTENSIONS: dict[str, str] = {
    # images
    "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "jpe": "image/jpeg",
    "jfif": "image/jpeg", "gif": "image/gif", "webp": "image/webp", "bmp": "image/bmp",
    "ico": "image/x-icon", "tif": "image/tiff", "tiff": "image/tiff", "avif": "image/avif",
    "heic": "image/heic", "heif": "image/heif", "jxl": "image/jxl", "svg": "image/svg+xml",
    "psd": "image/vnd.adobe.photoshop",
    # text and markup
    "txt": "text/plain", "text": "text/plain", "log": "text/plain", "ini": "text/plain",
    "md": "text/markdown", "markdown": "text/markdown", "csv": "text/csv",
    "tsv": "text/tab-separated-values", "json": "application/json", "xml": "application/xml",
    "html": "text/html", "htm": "text/html", "xhtml": "application/xhtml+xml", "css": "text/css",
    "js": "text/javascript", "mjs": "text/javascript", "py": "text/x-python",
    "sh": "application/x-sh", "yaml": "application/yaml", "yml": "application/yaml",
    "toml": "application/toml", "ics": "text/calendar", "vcf": "text/vcard", "rtf": "application/rtf",
    # documents
    "pdf": "application/pdf",
    "doc": "application/msword", "xls": "application/vnd.ms-excel", "ppt": "application/vnd.ms-powerpoint",
    "docx": _OOXML + "wordprocessingml.document", "xlsx": _OOXML + "spreadsheetml.sheet",
    "pptx": _OOXML + "presentationml.presentation",
    "odt": _ODF + "text", "ods": _ODF + "spreadsheet", "odp": _ODF + "presentation",
    "epub": "application/epub+zip",
    # archives and packages
    "zip": "application/zip", "gz": "application/gzip", "tgz": "application/gzip",
    "tar": "application/x-tar", "bz2": "application/x-bzip2", "xz": "application/x-xz",
    "7z": "application/x-7z-compressed", "rar": "application/vnd.rar", "zst": "application/zstd",
    "jar": "application/java-archive", "apk": "application/vnd.android.package-archive",
    "deb": "application/vnd.debian.binary-package", "rpm": "application/x-rpm",
    "dmg": "application/x-apple-diskimage",
    # audio
    "mp3": "audio/mpeg", "wav": "audio/wav", "ogg": "audio/ogg", "oga": "audio/ogg", "opus": "audio/ogg",
    "flac": "audio/flac", "m4a": "audio/mp4", "aac": "audio/aac", "weba": "audio/webm",
    "mid": "audio/midi", "midi": "audio/midi", "aif": "audio/aiff", "aiff": "audio/aiff",
    # video
    "mp4": "video/mp4", "m4v": "video/x-m4v", "mov": "video/quicktime", "webm": "video/webm",
    "mkv": "video/x-matroska", "avi": "video/x-msvideo", "ogv": "video/ogg", "3gp": "video/3gpp",
    "mpeg": "video/mpeg", "mpg": "video/mpeg",
    # programs
    "exe": "application/x-msdownload", "dll": "application/x-msdownload", "scr": "application/x-msdownload",
    "msi": "application/x-msi", "so": "application/x-sharedlib", "dylib": "application/x-mach-binary",
    "class": "application/java-vm", "wasm": "application/wasm",
    # fonts, data
    "woff": "font/woff", "woff2": "font/woff2", "ttf": "font/ttf", "otf": "font/otf",
    "sqlite": "application/vnd.sqlite3", "db": "application/vnd.sqlite3",
}

_MARKUP = {"text/html", "application/xhtml+xml", "image/svg+xml", "application/xml", "text/xml"}
_ZIP = {"application/zip", "application/epub+zip", "application/java-archive",
        "application/vnd.android.package-archive"}
_OLE = {"application/x-ole-storage", "application/msword", "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint", "application/x-msi"}
_EXECUTABLE = {"application/x-msdownload", "application/x-executable", "application/x-sharedlib",
               "application/x-mach-binary", "application/java-vm", "application/wasm"}
_ARCHIVE = {"application/gzip", "application/x-tar", "application/x-bzip2", "application/x-xz",
            "application/x-7z-compressed", "application/vnd.rar", "application/zstd",
            "application/vnd.debian.binary-package", "application/x-rpm", "application/x-apple-diskimage"}
_TEXTUAL = {"application/json", "application/x-sh", "application/yaml", "application/toml",
            "application/rtf", "application/javascript"}


def normalize(content_type: str | None) -> str:
    """'Text/Plain; charset=UTF-8' -> 'text/plain' ('' for nothing)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def extension(name: str) -> str:
    """Lower-case extension without the dot; '' for 'README', '.bashrc' or 'a/b.'."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip().lower()
    stem, dot, ext = base.rpartition(".")
    return ext if dot and stem else ""


def type_for_extension(name: str) -> str | None:
    """The type our table gives a file name, or None when we do not know it."""
    return EXTENSIONS.get(extension(name))


def family(content_type: str) -> str | None:
    """The family a type belongs to; None for types that claim nothing (octet-stream)."""
    ct = normalize(content_type)
    if ct in _MARKUP:
        return "markup"
    if ct in _ZIP or ct.startswith((_OOXML, _ODF)):
        return "zip"
    for name, members in (("ole", _OLE), ("executable", _EXECUTABLE), ("archive", _ARCHIVE)):
        if ct in members:
            return name
    if ct == "application/pdf":
        return "pdf"
    if ct == "application/vnd.sqlite3":
        return "database"
    major = ct.split("/", 1)[0]
    if major == "image":
        return "image"
    if major in ("audio", "video") or ct == "application/ogg":
        return "media"
    if major == "font":
        return "font"
    if major == "text" or ct in _TEXTUAL:
        return "text"
    return None


def consistent(claimed: str, content: str) -> bool:
    """Can content of type `content` honestly carry the name type `claimed`?

    Same family is fine (a PNG named .jpg). Text names also hold markup: a .txt
    holding HTML is still text, and we serve it as text/plain.
    """
    claimed_family, content_family = family(claimed), family(content)
    if claimed_family is None or content_family is None:
        return True
    if claimed_family == content_family:
        return True
    return claimed_family == "text" and content_family == "markup"


def refines(claimed: str, content: str) -> bool:
    """Is the name's type a more precise (and safe) reading of the sniffed one?

    A .docx sniffs as ZIP and a .doc as an OLE container: the name says which
    kind. A .txt that sniffs as HTML stays text/plain, so it is never rendered.
    """
    content = normalize(content)
    if content in ("application/zip", "application/x-ole-storage"):
        return family(claimed) == family(content)
    return family(claimed) == "text" and family(content) == "markup"
