"""The restrictions' verdicts on an upload, as the server gives them a second time: its name, size and
declared type before any byte is stored, then its first 4096 bytes once they are in, by the same
`core.restrictions.check` the browser used (a renamed .exe is refused here); and a creation key sent
again for another file."""

from __future__ import annotations

from app.core.models import FileInfo
from app.core.restrictions import Restrictions, check
from app.core.sniff import HEAD_SIZE, effective_type
from server.http.api_error import ApiError
from server.http.inputs import clean_name
from server.store.rows import UploadRow


def refuse_breaking(info: FileInfo, restrictions: Restrictions) -> None:
    """ApiError naming the first restriction `info` breaks, if any."""
    problems = check(info, restrictions)
    if problems:
        raise ApiError.from_problem(problems[0])


def judge_start(name: str, size: int, declared: str, restrictions: Restrictions) -> FileInfo:
    """Judge name, size and declared type before any byte is sent; raises ApiError to refuse."""
    info = FileInfo(name=clean_name(name), size=size, declared_type=declared, head=b"")
    refuse_breaking(info, restrictions)
    return info


def judge_head(u: UploadRow, head: bytes, restrictions: Restrictions) -> None:
    """Second opinion with the real first bytes; raises to refuse, else records the type they show."""
    info = FileInfo(name=u.name, size=u.size, declared_type=u.declared_type, head=head[:HEAD_SIZE])
    refuse_breaking(info, restrictions)
    u.content_type = effective_type(info)
    u.head_checked = True


def beyond(u: UploadRow) -> ApiError:
    return ApiError(413, "exceeds_declared_size", f"{u.name}: more bytes were sent than the declared {u.size}.",
                    "Start a new upload with the right size.")


def same_creation(earlier: UploadRow, name: str, size: int) -> UploadRow:
    """The upload an earlier creation with the same key made; a key reused for another file is a client's bug."""
    if (earlier.name, earlier.size) != (name, size):
        raise ApiError(409, "creation_key_reused", f"This creation key made the upload of {earlier.name} "
                       f"({earlier.size} bytes), not of {name} ({size} bytes).",
                       "Use a new random key for each file's upload.")
    return earlier
