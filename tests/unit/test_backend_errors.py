"""The values the shell exchanges with adapters and machines, and how a failed answer reads."""

import json

import pytest

from app.core.errors import BackendError, bad_response, error_from_response, http_error
from app.core.http import TIMED_OUT, FileSlice, Request, Response, header_int, is_retryable, retry_after
from app.core.models import Problem


def problem_body(code, message, hint=None) -> str:
    return json.dumps({"error": {"code": code, "message": message, **({"hint": hint} if hint else {})}})


class TestValues:
    def test_response_headers_are_lower_cased(self):
        assert Response(200, {"Content-Type": "a", "Upload-Offset": "3"}).headers == {
            "content-type": "a", "upload-offset": "3"}

    def test_a_timeout_is_a_status_0_with_the_transports_marker(self):
        assert Response(0, {}, TIMED_OUT).timed_out
        assert not Response(0, {}, "Failed to fetch").timed_out and not Response(504, {}, TIMED_OUT).timed_out

    @pytest.mark.parametrize("start, end", [(-1, 3), (5, 4)])
    def test_file_slice_must_be_a_range(self, start, end):
        with pytest.raises(ValueError):
            FileSlice(start, end)

    def test_request_cannot_carry_json_and_a_file(self):
        with pytest.raises(ValueError):
            Request("POST", "/x", {}, json={}, body=FileSlice(0, 1))

    @pytest.mark.parametrize("value, expected", [("42", 42), (" 7 ", 7), ("", None), ("-1", None), ("1.5", None),
                                                 ("²", None), ("１", None)])
    def test_integer_headers_are_plain_ascii_digits(self, value, expected):
        assert header_int(Response(200, {"Upload-Offset": value}), "Upload-Offset") == expected

    def test_retry_after_in_seconds_only(self):
        assert retry_after(Response(429, {"Retry-After": "7"})) == 7.0
        assert retry_after(Response(503, {"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"})) is None


class TestWording:
    @pytest.mark.parametrize("status", [0, 408, 423, 429, 500, 503, 599])
    def test_retryable_statuses(self, status):
        assert is_retryable(status) and error_from_response(Response(status, {}, "<html>x</html>")).retryable

    @pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 409, 410, 412, 413, 415, 422, 301, 101])
    def test_not_retryable_statuses(self, status):
        err = error_from_response(Response(status, {}, "nope"))
        assert err.retryable is False and err.problem.code and err.problem.message and err.problem.hint

    @pytest.mark.parametrize("status, code, message", [
        (413, "too_large", "movie.mp4 is 120 MB; the limit is 25 MB"),
        (415, "type_mismatch", "photo.png: its content is not what its name says"),
        (422, "empty", "notes.txt is empty"),
        (409, "offset_mismatch", "The server holds 8388608 bytes"),
    ])
    def test_the_servers_problem_body_is_used(self, status, code, message):
        err = error_from_response(Response(status, {}, problem_body(code, message, "Do the thing.")))
        assert err.problem == Problem(code, message, "Do the thing.")
        assert err.status == status

    def test_a_missing_hint_falls_back_by_status(self):
        err = error_from_response(Response(413, {}, problem_body("too_large", "big.iso is 5 GB")))
        assert (err.problem.message, err.problem.hint) == ("big.iso is 5 GB", "Choose a smaller file.")

    def test_matrix_style_string_error(self):
        err = error_from_response(Response(413, {}, json.dumps({"errcode": "M_TOO_LARGE", "error": "Too big"})))
        assert (err.problem.code, err.problem.message) == ("too_large", "Too big")

    def test_html_and_plain_text_bodies_get_our_wording(self):
        err = error_from_response(Response(502, {}, "<html><body>Bad Gateway</body></html>"))
        assert "<html>" not in err.problem.message and "502" in err.problem.message

    def test_network_and_401_always_use_our_wording(self):
        assert error_from_response(Response(0, {}, "TypeError: Failed to fetch")).problem == Problem(
            "network", "Could not reach the server.", "Check your connection, then retry.")
        err = error_from_response(Response(401, {}, problem_body("unauthorized", "Missing bearer token")))
        assert err.problem.message.startswith("Sign in again: the server did not accept")

    def test_412_says_the_page_and_server_do_not_match(self):
        assert error_from_response(Response(412, {})).problem.code == "protocol_version"

    def test_long_server_messages_are_clipped(self):
        assert len(http_error(Response(422, {}), "x", "word " * 1000).problem.message) <= 500

    def test_retryable_can_be_overridden(self):
        assert http_error(Response(409, {}), retryable=True).retryable


def test_backend_error_is_an_exception_with_the_message():
    err = BackendError(Problem("x", "Something broke.", "Retry."), retryable=True, status=503)
    assert isinstance(err, Exception) and str(err) == "Something broke."
    assert (err.code, err.retryable, err.status) == ("x", True, 503)
    assert bad_response("x.y is missing").problem.message == (
        "The server sent a response Attache could not read (x.y is missing).")
