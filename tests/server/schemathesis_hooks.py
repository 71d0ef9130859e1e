"""What Schemathesis needs to speak tus to the reference server (loaded by its CLI via `hooks`).

- `Upload-Metadata` is documented as `format: tus-metadata` (comma-separated
  `key base64value` pairs with `filename` and `filetype`): a JSON Schema
  cannot say "base64 of a file name of an accepted type", so this strategy
  makes values of that format, for names the test server's restrictions
  accept (tests.server.production.PROD_CONFIG: image/*, .pdf, .txt), with a
  `filetype` that is empty or agrees with the name, as browsers send it.
- PATCH bodies are `application/offset+octet-stream`: bytes, sent as they are.
"""

from __future__ import annotations

import base64

import schemathesis
from hypothesis import strategies as st

TYPES = {".pdf": "application/pdf", ".txt": "text/plain", ".png": "image/png", ".jpg": "image/jpeg",
         ".gif": "image/gif", ".webp": "image/webp"}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode("ascii")


@st.composite
def tus_metadata(draw) -> str:
    stem = draw(st.text(st.characters(exclude_categories=("C",), exclude_characters="/\\"), min_size=1, max_size=40)
                .filter(lambda s: s.strip(" .")))
    ext = draw(st.sampled_from(sorted(TYPES)))
    filetype = draw(st.sampled_from(["", TYPES[ext]]))
    pairs = [f"filename {_b64(stem + ext)}", f"filetype {_b64(filetype)}" if filetype else "filetype"]
    return ",".join(draw(st.permutations(pairs)))


schemathesis.openapi.format("tus-metadata", tus_metadata())


# tus PATCH bodies are plain bytes under their own media type: send them as application/octet-stream is sent.
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")
