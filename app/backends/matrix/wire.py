"""What Attache sends to a Matrix homeserver, as pure functions: paths, filters, content.

Nothing here knows the adapter object: each function takes plain values and
returns plain values, so the request side of the Matrix mapping can be tested
(and re-fitted to another adapter interface) on its own.
"""

from __future__ import annotations

import json
import re

from app.backends.matrix.compat import path_segment
from app.core.imagesize import image_size
from app.core.media import thumbnail_ok
from app.core.models import FileInfo

CLIENT = "/_matrix/client/v3"
MEDIA_CONFIG = "/_matrix/client/v1/media/config"
MEDIA_UPLOAD = "/_matrix/media/v3/upload"
MEDIA_DOWNLOAD = "/_matrix/client/v1/media/download/"
WHOAMI = CLIENT + "/account/whoami"
SYNC = CLIENT + "/sync"

# mxc://<server name>/<media id>; server names are host[:port] (IPv6 in brackets).
_MXC = re.compile(r"mxc://([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?/([A-Za-z0-9_\-]+)")

#: Timeline event types the history never shows: state churn and annotations. Leaving
#: them out server-side fills each page with events worth showing.
NOT_IN_HISTORY = (
    "m.room.member", "m.room.power_levels", "m.room.join_rules", "m.room.history_visibility",
    "m.room.guest_access", "m.room.create", "m.room.server_acl", "m.reaction",
    "m.room.redaction", "m.call.candidates", "m.typing", "m.receipt",
)


def is_room_alias(room: str) -> bool:
    return isinstance(room, str) and room.startswith("#") and ":" in room[2:]


def check_room(room: object) -> str:
    """A room id (``!opaque`` -- v12 ids have no ``:server``) or an alias (``#name:server``)."""
    if not isinstance(room, str) or len(room) < 2 or room[0] not in "!#" or any(
        c.isspace() or c in "\0/" for c in room
    ):
        raise ValueError(f"room must be a room id like '!abc:server' or an alias like "
                         f"'#support:server', got {room!r}")
    if room[0] == "#" and not is_room_alias(room):
        raise ValueError(f"room alias must look like '#name:server', got {room!r}")
    return room


def room_path(room_id: str) -> str:
    return f"{CLIENT}/rooms/{path_segment(room_id, 'room id')}"


def alias_path(alias: str) -> str:
    return f"{CLIENT}/directory/room/{path_segment(alias, 'room alias')}"


def send_path(room_id: str, txn_id: str) -> str:
    """``PUT`` target for an ``m.room.message``; the txn id makes retries idempotent."""
    return f"{room_path(room_id)}/send/m.room.message/{path_segment(txn_id, 'transaction id')}"


def parse_mxc(uri: object) -> tuple[str, str] | None:
    """``("server[:port]", "mediaId")`` of a valid ``mxc://`` URI, else None."""
    match = _MXC.fullmatch(uri) if isinstance(uri, str) else None
    if match is None:
        return None
    return match.group(1) + (match.group(2) or ""), match.group(3)


def download_path(uri: str) -> str:
    """Authenticated download (Matrix 1.11): needs ``Authorization: Bearer``."""
    server, media_id = _mxc_or_error(uri)
    return f"{MEDIA_DOWNLOAD}{path_segment(server, 'server')}/{media_id}"


def thumbnail_path(uri: str) -> str:
    server, media_id = _mxc_or_error(uri)
    return f"/_matrix/client/v1/media/thumbnail/{path_segment(server, 'server')}/{media_id}"


def _mxc_or_error(uri: str) -> tuple[str, str]:
    parts = parse_mxc(uri)
    if parts is None:
        raise ValueError(f"not an mxc:// media URI: {uri!r}")
    return parts


def compact(value: object) -> str:
    """JSON for a query parameter (filters): no spaces, stable key order."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def history_filter() -> dict:
    """RoomEventFilter for ``/messages``: member events come back in ``state`` as needed."""
    return {"lazy_load_members": True, "not_types": list(NOT_IN_HISTORY)}


def sync_filter(room_id: str, timeline_limit: int) -> dict:
    """Filter for ``/sync``: this one room's timeline and members, nothing else."""
    nothing = {"not_types": ["*"]}
    return {
        "account_data": nothing,
        "presence": nothing,
        "room": {
            "rooms": [room_id],
            "timeline": {"limit": timeline_limit},
            "state": {"lazy_load_members": True, "types": ["m.room.member"]},
            "ephemeral": nothing,
            "account_data": nothing,
        },
    }


def msgtype_for(content_type: str) -> str:
    """Raster images are ``m.image`` (other clients show them inline); SVG is a file."""
    if thumbnail_ok(content_type):
        return "m.image"
    if content_type.startswith("video/"):
        return "m.video"
    if content_type.startswith("audio/"):
        return "m.audio"
    return "m.file"


def text_content(text: str) -> dict:
    return {"msgtype": "m.text", "body": text}


def media_content(text: str, uri: str, info: FileInfo, content_type: str) -> dict:
    """An ``m.image``/``m.video``/``m.audio``/``m.file`` event for an uploaded file.

    ``filename`` is always set, so by the media captions rule (Matrix 1.10) the
    typed text is the caption in ``body``; with no text ``body`` is the name.
    Images carry ``w``/``h`` when the file's head says them.
    """
    if parse_mxc(uri) is None:
        raise ValueError(f"not an mxc:// media URI: {uri!r}")
    msgtype = msgtype_for(content_type)
    caption = text.strip()
    details: dict = {"mimetype": content_type, "size": info.size}
    if msgtype == "m.image":
        size = image_size(info.head)
        if size is not None:
            details["w"], details["h"] = size
    return {
        "msgtype": msgtype,
        "body": text if caption else info.name,
        "filename": info.name,
        "url": uri,
        "info": details,
    }
