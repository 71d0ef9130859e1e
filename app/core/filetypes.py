"""Everything Attache knows about file types, in one table: one row per type.

A row gives the type's extensions, its magic (prefixes, or a test from
`app.core.magic`), its label and icon, the plural that describes it in the
accepted-types sentence, whether a browser may draw it as a thumbnail or open
it in place, and whether a file claiming the type must carry its signature.
Sniffing, labels, icons, restrictions and media safety all read this table.

Why our own table: `mimetypes` reads the platform's tables, so CPython on the
server and Pyodide in the browser would disagree; the pure-Python magic
libraries on PyPI were weighed and left out (see docs/design-notes.md).

A *family* groups types whose content can stand for one another. A file is
suspicious when its content belongs to a different family than its name
claims (a Windows program named photo.png), not when a PNG is named .jpg.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.core import magic

OCTET_STREAM = "application/octet-stream"
Magic = bytes | Callable[[bytes], bool]  # a prefix at offset 0, or a test of the head


@dataclass(frozen=True)
class FileType:
    mime: str
    label: str                       # "PNG image": for a file card, or "it looks like a PNG image"
    extensions: tuple[str, ...] = ()
    magic: tuple[Magic, ...] = ()    # tried in table order; tests before prefixes
    family: str = ""                 # "" = the family of the major type (GROUPS)
    icon: str = ""                   # "" = the icon of the family / major type
    plural: str = ""                 # "PNG images" in "Up to 25 MB · PNG images"; "" = say the pattern
    thumbnail: bool = False          # safe to draw in an <img> (raster images only, never SVG)
    inline: bool = False             # the server may serve it inline; the page opens it in a new tab
    signature: bool = False          # a file claiming this type must start with its magic
    container: bool = False          # the sniffed type is only the wrapper (ZIP, OLE): a name of its family says more


@dataclass(frozen=True)
class Group:
    """What a major type says of types the table has no row for (and the `image/*` pattern)."""

    label: str
    plural: str
    family: str
    icon: str


GROUPS = {
    "image": Group("Image", "images", "image", "image"),
    "audio": Group("Audio file", "audio", "media", "audio"),
    "video": Group("Video", "videos", "media", "video"),
    "text": Group("Text file", "text", "text", "text"),
    "font": Group("Font", "fonts", "font", "file"),
}


def T(mime: str, label: str, ext: str = "", *magic_: Magic, **more) -> FileType:
    """One row: extensions as one space-separated string, magic as the remaining arguments."""
    return FileType(mime, label, tuple(ext.split()), tuple(magic_), **more)


_OOXML = "application/vnd.openxmlformats-officedocument."
_ODF = "application/vnd.oasis.opendocument."
_RASTER = {"thumbnail": True, "inline": True}
_SIGNED_RASTER = {**_RASTER, "signature": True}
_CODE = {"icon": "code"}
_OFFICE = {"family": "zip", "signature": True}

TYPES: tuple[FileType, ...] = (
    # images
    T("image/png", "PNG image", "png", b"\x89PNG\r\n\x1a\n", plural="PNG images", **_SIGNED_RASTER),
    T("image/jpeg", "JPEG image", "jpg jpeg jpe jfif", b"\xff\xd8\xff", plural="JPEG images", **_SIGNED_RASTER),
    T("image/gif", "GIF image", "gif", b"GIF87a", b"GIF89a", plural="GIF images", **_SIGNED_RASTER),
    T("image/webp", "WebP image", "webp", magic.riff(b"WEBP"), plural="WebP images", **_SIGNED_RASTER),
    T("image/bmp", "BMP image", "bmp", magic.bmp, **_RASTER),
    T("image/avif", "AVIF image", "avif", magic.avif, **_RASTER),
    T("image/heic", "HEIC image", "heic", magic.ftyp(*magic.HEIF_BRANDS), plural="HEIC images"),
    T("image/heif", "HEIF image", "heif"),
    T("image/x-icon", "Icon", "ico", b"\x00\x00\x01\x00"),
    T("image/tiff", "TIFF image", "tif tiff", b"II*\x00", b"MM\x00*"),
    T("image/jxl", "JPEG XL image", "jxl", b"\xff\x0a", b"\x00\x00\x00\x0cJXL \r\n\x87\n"),
    T("image/vnd.adobe.photoshop", "Photoshop image", "psd", b"8BPS"),
    T("image/svg+xml", "SVG image", "svg", family="markup", icon="image", plural="SVG images"),  # sniff.markup
    # text and markup (HTML, SVG and XML are recognised by sniff's WHATWG rule, not by magic)
    T("text/plain", "Text file", "txt text log ini", plural="text", inline=True),
    T("text/markdown", "Markdown file", "md markdown", plural="Markdown"),
    T("text/csv", "CSV file", "csv", icon="spreadsheet", plural="CSV"),
    T("text/tab-separated-values", "TSV file", "tsv", icon="spreadsheet"),
    T("application/json", "JSON file", "json", family="text", plural="JSON", **_CODE),
    T("application/xml", "XML document", "xml", family="markup", **_CODE),
    T("text/xml", "XML document", family="markup", **_CODE),
    T("text/html", "HTML page", "html htm", family="markup", plural="HTML", **_CODE),
    T("application/xhtml+xml", "HTML page", "xhtml", family="markup", **_CODE),
    T("text/css", "CSS file", "css", **_CODE),
    T("text/javascript", "JavaScript file", "js mjs", **_CODE),
    T("application/javascript", "JavaScript file", family="text", **_CODE),
    T("text/x-python", "Python file", "py", **_CODE),
    T("application/x-sh", "Shell script", "sh", family="text", **_CODE),
    T("application/yaml", "YAML file", "yaml yml", family="text", **_CODE),
    T("application/toml", "TOML file", "toml", family="text", **_CODE),
    T("text/calendar", "Calendar file", "ics"),
    T("text/vcard", "Contact card", "vcf"),
    T("application/rtf", "Rich text document", "rtf", b"{\\rtf", family="text", icon="document", plural="RTF"),
    # documents
    T("application/pdf", "PDF document", "pdf", b"%PDF-", family="pdf", icon="pdf", plural="PDF",
      inline=True, signature=True),
    T("application/x-ole-storage", "Microsoft Office file", "", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
      family="ole", container=True),
    T("application/msword", "Word document", "doc", family="ole", icon="document", plural="Word documents"),
    T("application/vnd.ms-excel", "Excel spreadsheet", "xls", family="ole", icon="spreadsheet",
      plural="Excel spreadsheets"),
    T("application/vnd.ms-powerpoint", "PowerPoint presentation", "ppt", family="ole", icon="presentation",
      plural="PowerPoint presentations"),
    T(_OOXML + "wordprocessingml.document", "Word document", "docx", icon="document",
      plural="Word documents", **_OFFICE),
    T(_OOXML + "spreadsheetml.sheet", "Excel spreadsheet", "xlsx", icon="spreadsheet",
      plural="Excel spreadsheets", **_OFFICE),
    T(_OOXML + "presentationml.presentation", "PowerPoint presentation", "pptx", icon="presentation",
      plural="PowerPoint presentations", **_OFFICE),
    T(_ODF + "text", "OpenDocument text", "odt", icon="document", plural="OpenDocument text", **_OFFICE),
    T(_ODF + "spreadsheet", "OpenDocument spreadsheet", "ods", icon="spreadsheet",
      plural="OpenDocument spreadsheets", **_OFFICE),
    T(_ODF + "presentation", "OpenDocument presentation", "odp", icon="presentation",
      plural="OpenDocument presentations", **_OFFICE),
    T("application/epub+zip", "EPUB book", "epub", family="zip", icon="document"),
    # archives and packages
    T("application/zip", "ZIP archive", "zip", b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08", family="zip",
      plural="ZIP archives", container=True),
    T("application/gzip", "gzip archive", "gz tgz", b"\x1f\x8b", family="archive"),
    T("application/x-tar", "tar archive", "tar", magic.tar, family="archive"),
    T("application/x-bzip2", "bzip2 archive", "bz2", magic.bzip2, family="archive"),
    T("application/x-xz", "xz archive", "xz", b"\xfd7zXZ\x00", family="archive"),
    T("application/x-7z-compressed", "7-Zip archive", "7z", b"7z\xbc\xaf\x27\x1c", family="archive"),
    T("application/vnd.rar", "RAR archive", "rar", b"Rar!\x1a\x07", family="archive"),
    T("application/zstd", "Zstandard archive", "zst", b"\x28\xb5\x2f\xfd", family="archive"),
    T("application/java-archive", "Java archive", "jar", family="zip"),
    T("application/vnd.android.package-archive", "Android app", "apk", family="zip"),
    T("application/vnd.debian.binary-package", "Debian package", "deb", family="archive"),
    T("application/x-rpm", "RPM package", "rpm", b"\xed\xab\xee\xdb", family="archive"),
    T("application/x-apple-diskimage", "Disk image", "dmg", family="archive"),
    # audio (before video: an M4A's ftyp box is checked before MP4's catch-all)
    T("audio/mpeg", "MP3 audio", "mp3", b"ID3", magic.mp3_frame, plural="MP3 audio", inline=True),
    T("audio/wav", "WAV audio", "wav", magic.riff(b"WAVE"), plural="WAV audio", inline=True),
    T("audio/ogg", "Ogg audio", "ogg oga opus", magic.ogg_audio, inline=True),
    T("audio/flac", "FLAC audio", "flac", b"fLaC", inline=True),
    T("audio/mp4", "M4A audio", "m4a", magic.ftyp(b"M4A ", b"M4B ", b"M4P "), inline=True),
    T("audio/aac", "AAC audio", "aac", magic.adts, inline=True),
    T("audio/webm", "WebM audio", "weba", inline=True),
    T("audio/midi", "MIDI file", "mid midi", b"MThd", inline=True),
    T("audio/aiff", "AIFF audio", "aif aiff", magic.aiff, inline=True),
    T("application/ogg", "Ogg media", family="media"),
    # video
    T("video/quicktime", "QuickTime video", "mov", magic.ftyp(b"qt  "), inline=True),
    T("video/3gpp", "3GP video", "3gp", magic.third_gen_partnership, inline=True),
    T("video/mp4", "MP4 video", "mp4", magic.ftyp(), plural="MP4 videos", inline=True),  # any other brand
    T("video/x-m4v", "MP4 video", "m4v", inline=True),
    T("video/webm", "WebM video", "webm", magic.webm, inline=True),
    T("video/x-matroska", "Matroska video", "mkv", magic.matroska, inline=True),
    T("video/x-msvideo", "AVI video", "avi", magic.riff(b"AVI "), inline=True),
    T("video/ogg", "Ogg video", "ogv", magic.ogg_video, inline=True),
    T("video/mpeg", "MPEG video", "mpeg mpg", inline=True),
    # programs
    T("application/x-msdownload", "Windows program", "exe dll scr", magic.windows_program, family="executable"),
    T("application/x-msi", "Windows installer", "msi", family="ole"),
    T("application/x-executable", "Linux program", "", b"\x7fELF", family="executable"),
    T("application/x-sharedlib", "Linux library", "so", family="executable"),
    T("application/x-mach-binary", "macOS program", "dylib", b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf",
      b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe", magic.fat_mach_o, family="executable"),
    T("application/java-vm", "Java program", "class", magic.java_class, family="executable"),
    T("application/wasm", "WebAssembly module", "wasm", b"\x00asm", family="executable"),
    # fonts, data
    T("font/woff", "Web font", "woff", b"wOFF"),
    T("font/woff2", "Web font", "woff2", b"wOF2"),
    T("font/ttf", "TrueType font", "ttf", b"\x00\x01\x00\x00\x00"),
    T("font/otf", "OpenType font", "otf", b"OTTO"),
    T("application/vnd.sqlite3", "SQLite database", "sqlite db", b"SQLite format 3\x00", family="database"),
)

BY_MIME: dict[str, FileType] = {row.mime: row for row in TYPES}
EXTENSIONS: dict[str, str] = {ext: row.mime for row in TYPES for ext in row.extensions}


def normalize(content_type: str | None) -> str:
    """'Text/Plain; charset=UTF-8' -> 'text/plain' ('' for nothing)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def lookup(content_type: str | None) -> FileType | None:
    """The table's row for a type (parameters and case ignored), or None."""
    return BY_MIME.get(normalize(content_type))


def group(content_type: str | None) -> Group | None:
    """What the major type says ('image/x-new' is still an image)."""
    return GROUPS.get(normalize(content_type).split("/", 1)[0])


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
    row, major = lookup(content_type), group(content_type)
    if row is not None and row.family:
        return row.family
    return major.family if major is not None else None


def signature_required(content_type: str) -> bool:
    """Must a file claiming this type start with its magic (a PDF with '%PDF-')?"""
    row = lookup(content_type)
    return row is not None and row.signature


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
    row = lookup(content)
    if row is not None and row.container:
        return family(claimed) == family(content)
    return family(claimed) == "text" and family(content) == "markup"
