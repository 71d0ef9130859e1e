"""Check a real answer against the server's own OpenAPI document: status, headers, content type, body."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import jsonschema_rs

def validate(doc: dict[str, Any], schema: dict[str, Any], value: Any, where: str) -> None:
    """`value` against `schema`, whose $refs point into the document's components."""
    root = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema, "components": doc["components"]}
    errors = [f"{e.instance_path}: {e.message}" for e in
              jsonschema_rs.Draft202012Validator(root, validate_formats=True).iter_errors(value)]
    assert not errors, f"{where}: {errors[:5]}\n{json.dumps(value)[:2000]}"


def _regex(template: str) -> str:
    segments = ["[^/]+" if seg.startswith("{") else re.escape(seg) for seg in template.split("/")]
    if template.endswith("{path}"):
        segments[-1] = ".+"
    return "^" + "/".join(segments) + "$"


def operation_of(doc: dict[str, Any], method: str, path: str) -> tuple[str, dict[str, Any]]:
    """The documented path template and operation that `method path` (a concrete path) reaches."""
    for template, item in doc["paths"].items():
        if re.match(_regex(template), path) and method.lower() in item:
            return template, item[method.lower()]
    raise AssertionError(f"{method} {path} is not in the document")


def check(doc: dict[str, Any], response: httpx.Response) -> Any:
    """Assert `response` is what the document says its operation answers; returns the JSON body (or None)."""
    request = response.request
    template, op = operation_of(doc, request.method, request.url.path)
    where = f"{request.method} {template} -> {response.status_code}"
    answers = op["responses"]
    assert str(response.status_code) in answers, f"{where}: status not documented ({sorted(answers)})"
    answer = answers[str(response.status_code)]
    for name, spec in answer.get("headers", {}).items():
        value = response.headers.get(name)
        assert value is not None or not spec.get("required"), f"{where}: header {name} missing"
        if value is not None and "schema" in spec:
            typed = int(value) if spec["schema"].get("type") == "integer" else value
            validate(doc, spec["schema"], typed, f"{where} header {name}")
    content = answer.get("content")
    if not content or request.method == "HEAD" or response.status_code in (204, 304):
        assert not response.content, f"{where}: a body the document does not describe"
        return None
    media = response.headers.get("content-type", "").split(";")[0].strip()
    spec = content.get(media) or content.get("*/*")
    assert spec is not None, f"{where}: content type {media!r} not documented ({sorted(content)})"
    if media != "application/json":
        return None
    body = response.json()
    validate(doc, spec["schema"], body, where)
    return body


def check_event(doc: dict[str, Any], event: dict[str, str]) -> dict[str, Any]:
    """One parsed Server-Sent Event against the stream's `itemSchema`, and its data against contentSchema."""
    item = doc["paths"]["/api/conversations/{cid}/events"]["get"]["responses"]["200"]["content"][
        "text/event-stream"]["itemSchema"]
    validate(doc, item, event, "event")
    data = json.loads(event["data"])
    schema = doc["components"]["schemas"]["MessageEvent"]["properties"]["data"]["contentSchema"]
    validate(doc, schema, data, "event data")
    return data
