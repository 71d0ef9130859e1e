"""docs/api.md's "Wire format" section is what tools/wire_docs.py renders from app/core/schemas.py."""

from app.core import schemas
from tools import wire_docs


def test_the_checked_in_wire_format_is_the_generated_one():
    doc = wire_docs.API_DOC.read_text()
    assert wire_docs.with_section(doc) == doc, "docs/api.md is stale: run `python3 -m tools.wire_docs`"


def test_every_field_of_every_shape_has_a_row():
    text = wire_docs.render(*schemas.ALL)
    assert "### ErrorDetail" in text and "| `thumbnail_pending` | boolean | no (default `false`) |" in text
    assert "| `attachments` | array of [Attachment](#attachment) | yes |" in text
