"""The OpenAPI document: generated from the wire definitions, every route with its methods, and real
answers of a production-mode server that fit it (statuses, headers, bodies, each event of the stream)."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import jsonschema_rs
import pytest

from app.core import schemas
from app.core.wire import json_schemas
from server.app import create_app
from server.openapi.document import document

from .conftest import PNG, TEST_CONFIG, TUS, metadata, patch, start_upload, upload, upload_id
from .openapi_check import check, check_event
from .production import PROD_CONFIG, SECRET, bearer, mint, shared_server
from tests.twilio.rig import write_twilio_config

METHODS = {"get", "head", "post", "put", "patch", "delete", "options", "trace", "query"}


MATRIX_TABLES = """
[backend]
kind = "matrix"

[matrix]
homeserver = "https://matrix.example"
room = "#support:matrix.example"
"""


@pytest.fixture(params=["development", "production", "twilio", "matrix", "broker"])
def built(request, tmp_path):
    """(app, its document) for a development, a production, a Twilio-bridged, a Matrix config
    (the page talks to the homeserver; the server's own routes are the same) and one with a [broker] (503s)."""
    (tmp_path / "jwt.key").write_bytes(SECRET)
    config = tmp_path / "config.toml"
    if request.param == "twilio":      # the bridge is built, never called: no Twilio needed
        config = write_twilio_config(tmp_path, "https://conversations.twilio.test", "https://mcs.twilio.test")
    elif request.param == "matrix":    # production: no static Matrix tokens
        config.write_text(PROD_CONFIG + MATRIX_TABLES)
    elif request.param == "broker":    # nothing connects to Redis before the lifespan starts
        config.write_text(PROD_CONFIG + '[broker]\nurl = "redis://127.0.0.1:9/0"\n')
    else:
        config.write_text(TEST_CONFIG if request.param == "development" else PROD_CONFIG)
    app = create_app(config, data_dir=tmp_path / "data")
    yield app, document(app.services.config, app.services.keepalive)
    app.services.store.close()


def test_every_route_appears_with_its_methods_and_nothing_else(built):
    app, doc = built
    served = {(re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path), method.lower())
              for route in app.routes for method in route.methods}
    documented = {(path, method) for path, item in doc["paths"].items() for method in item if method in METHODS}
    assert served == documented
    operation_ids = [op["operationId"] for item in doc["paths"].values() for m, op in item.items() if m in METHODS]
    assert len(operation_ids) == len(set(operation_ids))


def test_the_document_is_valid_openapi_3_2(built):
    """Against the official OpenAPI 3.2 schema (the copy Schemathesis ships), and every schema in it against
    JSON Schema 2020-12's meta-schema."""
    from schemathesis.specs.openapi.definitions import OPENAPI_32_VALIDATOR

    _, doc = built
    assert [e.message for e in OPENAPI_32_VALIDATOR.iter_errors(doc)] == []
    for name, schema in doc["components"]["schemas"].items():
        assert jsonschema_rs.meta.is_valid(schema), name


def test_every_ref_resolves_and_every_path_parameter_is_declared(built):
    _, doc = built
    refs = set(re.findall(r'"\$ref": "#/components/schemas/(\w+)"', json.dumps(doc)))
    assert refs and refs <= set(doc["components"]["schemas"])
    for path, item in doc["paths"].items():
        for name in re.findall(r"\{(\w+)\}", path):
            params = item.get("parameters", []) + [p for m, op in item.items() if m in METHODS
                                                   for p in op.get("parameters", [])]
            assert any(p["name"] == name and p["in"] == "path" for p in params), (path, name)


def test_the_shapes_are_the_wire_definitions_not_copies(built):
    """Message, Attachment, History, Restrictions, MessageCreate, Error, EventsTicket: as app.core.wire generates them."""
    _, doc = built
    generated = json_schemas(*schemas.ALL)
    ours = doc["components"]["schemas"]
    for name, schema in generated.items():
        assert ours[name] == schema, name


def test_numbers_come_from_the_config(built):
    app, doc = built
    config, uploads = app.services.config, doc["paths"]["/api/uploads"]
    largest = config.restrictions.max_file_size
    assert uploads["options"]["responses"]["204"]["headers"]["Tus-Max-Size"]["schema"]["const"] == largest
    length = next(p for p in uploads["post"]["parameters"] if p["name"] == "Upload-Length")["schema"]
    for value, fits in [(str(largest), True), ("1", True), ("0001", True), (str(largest + 1), False), ("0", False),
                        ("", False), ("\u00b2", False)]:
        assert bool(re.match(length["pattern"], value)) == fits, value
    body = doc["paths"]["/api/conversations/{cid}/messages"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["properties"]["attachments"]["maxItems"] == config.restrictions.max_files_per_message
    dev = config.auth is None
    assert "query_token" not in doc["components"]["securitySchemes"]   # never a token in a URL, in either mode
    page = doc["components"]["schemas"]["PageConfig"]["properties"]["backend"]["properties"]
    assert ("identities" in page, "token_url" in page) == (dev, not dev)


# -- a production server's answers fit the document -------------------------------------------------

@pytest.fixture(scope="module")
def prod(tmp_path_factory):
    yield from shared_server(tmp_path_factory, PROD_CONFIG)


@pytest.fixture(scope="module")
def doc(prod):
    with prod.client() as c:
        return check_self(c.get("/api/openapi.json"))


def check_self(response: httpx.Response) -> dict:
    body = response.json()
    assert response.status_code == 200 and body["openapi"] == "3.2.0"
    assert check(body, response) == body
    return body


@pytest.fixture(scope="module")
def ann(prod):
    with prod.client(bearer(mint("u-ann-doc", "customer", ["doc-c1"], name="Ann"))) as c:
        yield c


def test_public_answers_fit(prod, doc):
    with prod.client() as c:
        check(doc, c.get("/api/restrictions"))
        check(doc, c.head("/api/restrictions"))
        assert check(doc, c.get("/attache-config.json"))["mode"] == "production"
        check(doc, c.options("/api/uploads"))
        check(doc, c.get("/api/restrictions?x=1&x=2"))                     # 400 repeated parameter
        check(doc, c.get("/api/conversations/doc-c1/messages"))            # 401
        check(doc, c.get("/assets/no-such-file.js"))                       # 404
        check(doc, c.get("/media/" + "0" * 64 + "/a.png?c=doc-c1&e=1&sig=00"))   # 403


def test_page_config_fits_in_both_modes(built):
    app, doc = built

    async def get() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
            return await c.get("/attache-config.json")

    with ThreadPoolExecutor(1) as pool:   # a thread of its own: the browser tests' loop may run in this one
        config = check(doc, pool.submit(asyncio.run, get()).result())
    assert ("identities" in config["backend"]) == (app.services.config.auth is None)


def test_upload_answers_fit(prod, doc, ann):
    created = start_upload(ann, "p.png", len(PNG), "image/png")
    check(doc, created)
    uid = upload_id(created)
    check(doc, ann.head(f"/api/uploads/{uid}", headers=TUS))
    check(doc, patch(ann, uid, 5, PNG))                                     # 409 with offset
    check(doc, patch(ann, uid, 0, PNG))                                     # 204
    check(doc, ann.options(f"/api/uploads/{uid}"))
    other = upload_id(start_upload(ann, "q.png", len(PNG), "image/png"))
    check(doc, ann.delete(f"/api/uploads/{other}", headers=TUS))            # 204
    check(doc, ann.head(f"/api/uploads/{other}", headers=TUS))              # 404
    for headers in [{"Upload-Length": "\u00b2".encode()}, {"Upload-Metadata": "filename !!"},
                    {"Upload-Metadata": metadata("a.png", "image/png\r\nX-Evil: 1".replace("\r\n", " "))},
                    {"Upload-Length": "400000000"}, {"Upload-Metadata": metadata("a.exe")},
                    {"Tus-Resumable": "2.0.0"}, {"Tus-Resumable": ""}]:
        check(doc, ann.post("/api/uploads", headers={**TUS, "Upload-Length": "10",
                                                     "Upload-Metadata": metadata("a.png"), **headers}))


def test_message_answers_fit(prod, doc, ann):
    png = upload(ann, "pic.png", PNG, "image/png")["upload_id"]
    key = uuid.uuid4().hex
    url = "/api/conversations/doc-c1/messages"
    sent = check(doc, ann.post(url, json={"idempotency_key": key, "text": "hi", "attachments": [png]}))
    assert sent["attachments"][0]["id"] == png
    check(doc, ann.post(url, json={"idempotency_key": key, "text": "hi", "attachments": [png]}))       # 200
    check(doc, ann.post(url, json={"idempotency_key": "k2", "text": "x", "attachments": ["0" * 32]}))  # 409
    check(doc, ann.post(url, json={"idempotency_key": "k3", "text": " "}))                           # 422
    check(doc, ann.post(url, content=b"{", headers={"Content-Type": "application/json"}))            # 400
    check(doc, ann.post("/api/conversations/someone-else/messages", json={"idempotency_key": "k"}))  # 404
    history = check(doc, ann.get(url))
    assert history["messages"][-1]["id"] == sent["id"]
    check(doc, ann.head(url))
    check(doc, ann.get(url, params={"after": "x"}))                                                 # 422
    media = ann.get(sent["attachments"][0]["url"])
    assert media.content == PNG
    check(doc, media)
    check(doc, ann.head(sent["attachments"][0]["url"]))


def test_each_event_of_the_stream_fits(prod, doc, ann):
    url = "/api/conversations/doc-c1"
    first = check(doc, ann.post(url + "/messages", json={"idempotency_key": uuid.uuid4().hex, "text": "one"}))
    ticket = check(doc, ann.post(url + "/events/ticket"))
    check(doc, ann.head(url + "/events"))
    with ann.stream("GET", url + "/events", params={"ticket": ticket["ticket"], "after": first["seq"] - 1},
                    headers={"Authorization": ""}) as stream:
        check(doc, stream)    # status, headers, text/event-stream
        event: dict[str, str] = {}
        for line in stream.iter_lines():
            if not line and "data" in event:
                break
            field, _, value = line.partition(":")
            if field in ("id", "event", "data"):
                event[field] = value.removeprefix(" ")
    assert check_event(doc, event) == first
    check(doc, ann.get(url + "/events", params={"ticket": "used-or-never-issued"}, headers={"Authorization": ""}))


def test_only_a_server_with_a_broker_documents_its_503s(built):
    app, doc = built
    ticket = doc["paths"]["/api/events/ticket"]["post"]["responses"]
    assert ("503" in ticket) == (app.services.config.broker_url is not None)
    if "503" in ticket:
        assert ticket["503"]["headers"]["Retry-After"]["required"]
