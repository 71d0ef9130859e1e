"""The OpenAPI paths a client reaches without a token: the restrictions, this document, the page and
its config, media and thumbnails by signed link, and (with Twilio) the signed webhook."""

from __future__ import annotations

from typing import Any

from server.config.config_file import Config
from server.openapi.building_blocks import INT, errors, file_operation, header, json_answer, ref, with_head

# The query of a signed link (server/media/link_signer.py): conversation, expiry, signature.
_SIGNED_LINK = [{"name": "c", "in": "query", "required": True, "schema": {"type": "string"},
                 "description": "Conversation"},
                {"name": "e", "in": "query", "required": True, "schema": INT, "description": "Expiry (unix time)"},
                {"name": "sig", "in": "query", "required": True, "schema": {"type": "string"}}]


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def public_paths(config: Config) -> dict[str, Any]:
    dev = config.auth is None
    signed_file_errors = errors(400, 403, 404, 503, e400="Repeated query parameter, or malformed Range (plain text)",
                                e503="The file storage is unreachable: retry after `Retry-After`")
    return {
        "/api/restrictions": with_head({"get": {
            "operationId": "getRestrictions", "summary": "What files may be attached", "security": [],
            "responses": {"200": json_answer(ref("Restrictions"), "The server's restrictions"), **errors(400)}}}),
        "/api/openapi.json": with_head({"get": {
            "operationId": "getOpenAPI", "summary": "This document", "security": [],
            "responses": {"200": json_answer({"type": "object"}, "OpenAPI document"), **errors(400)}}}),
        "/media/{sha256}/{filename}": file_operation(
            "getMedia", "An attachment's bytes (a signed link from a message, no token)", "*/*",
            [_path_param("sha256"), _path_param("filename"), *_SIGNED_LINK], signed_file_errors),
        "/thumbnails/{sha256}": file_operation(
            "getThumbnail", "An image attachment's thumbnail (a signed link from a message, no token)", "image/webp",
            [_path_param("sha256"), *_SIGNED_LINK], signed_file_errors),
        "/attache-config.json": with_head({"get": {
            "operationId": "getPageConfig", "security": [],
            "summary": "What the page needs: " + ("the development identities and their tokens" if dev
                                                  else "where to get a token (none is served)"),
            "responses": {"200": json_answer(ref("PageConfig"), "Page config")}}}),
        "/": file_operation("getPage", "The page", "text/html", more=errors(404)),
        "/index.html": file_operation("getIndex", "The page", "text/html", more=errors(404)),
        "/pyscript.toml": file_operation("getPyScriptConfig", "The page's PyScript config", "application/toml",
                                         more=errors(404)),
        "/attache.js": file_operation("getCanvasElement",
                                      "The <attache-canvas> element for portals (CORS for their origins)",
                                      "text/javascript", more=errors(404)),
        "/assets/{path}": file_operation("getAsset", "A hashed, immutable page asset (precompressed when accepted)",
                                         "*/*", [_path_param("path")], errors(404)),
        **(_twilio_webhook() if config.twilio is not None else {}),
    }


def _twilio_webhook() -> dict[str, Any]:
    """With [backend] kind = "twilio": where Twilio posts onMessageAdded (signed, so no token)."""
    form = {"application/x-www-form-urlencoded": {"schema": {"type": "object", "additionalProperties": {
        "type": "string"}}}}
    return {"/twilio/webhook": {"post": {
        "operationId": "twilioWebhook", "security": [],
        "summary": "Twilio Conversations post-event webhook, checked against X-Twilio-Signature",
        "parameters": [header("X-Twilio-Signature", {"type": "string"}),
                       header("I-Twilio-Idempotency-Token", {"type": "string"}, required=False)],
        "requestBody": {"required": True, "content": form},
        "responses": {"200": json_answer({"type": "object"}, "Processed, a repeat, or ignored"),
                      **errors(403), "503": json_answer(ref("Error"), "Twilio's media could not be fetched: retry")}}}}
