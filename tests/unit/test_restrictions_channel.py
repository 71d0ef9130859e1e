"""A bridged conversation's rules on the page: the channel named, smaller limits per type, explicit `retryable`."""
from __future__ import annotations

import json

import pytest

from app.core.errors import error_from_response
from app.core.http import Response
from app.core.models import FileInfo
from app.core.restrictions import Restrictions, check
from tests.files import PDF_HEAD as PDF, PNG_HEAD as PNG

WHATSAPP = Restrictions(16_000_000, ("image/jpeg", "image/png", "application/pdf"), 1,
                        (("image/*", 5_000_000),), "WhatsApp")
SMS = Restrictions(5_000_000, ("image/jpeg", "image/png", "application/pdf"), 1, channel="SMS/MMS")


def test_the_hint_says_the_channel_and_its_limits():
    assert WHATSAPP.describe_limit() == "WhatsApp: up to 16 MB (images up to 5 MB) · JPEG images, PNG images, PDF"
    assert SMS.describe_limit().startswith("SMS/MMS: up to 5 MB · ")
    assert Restrictions(25_000_000, ("image/*",)).describe_limit() == "Up to 25 MB · images"   # unchanged


def test_a_file_over_the_channels_limit_names_the_channel():
    [p] = check(FileInfo("scan.pdf", 6_000_000, "application/pdf", PDF), SMS)
    assert (p.code, p.message) == ("too_large", "scan.pdf is 6.0 MB; the limit on SMS/MMS is 5 MB")


def test_a_type_limit_refuses_a_large_image_but_not_a_large_pdf():
    [p] = check(FileInfo("photo.png", 6_000_000, "image/png", PNG), WHATSAPP)
    assert p.message == "photo.png is 6.0 MB; the limit on WhatsApp for images is 5 MB"
    [p] = check(FileInfo("photo.png", 6_000_000, "image/png", b""), WHATSAPP)    # before the head is read
    assert p.code == "too_large"
    assert check(FileInfo("scan.pdf", 10_000_000, "application/pdf", PDF), WHATSAPP) == []
    assert check(FileInfo("photo.png", 4_000_000, "image/png", PNG), WHATSAPP) == []


def test_a_type_the_channel_cannot_carry_names_it():
    [p] = check(FileInfo("notes.txt", 10, "text/plain", b"hello"), SMS)
    assert p.message == "notes.txt: this type cannot be sent on SMS/MMS (accepted: JPEG images, PNG images, PDF)"


def test_json_round_trip_and_the_admin_table_stays_strict():
    data = WHATSAPP.to_json()
    assert data["type_limits"] == [{"types": "image/*", "max_file_size": 5_000_000}] and data["channel"] == "WhatsApp"
    assert Restrictions.from_json(data) == WHATSAPP
    assert "channel" not in Restrictions().to_json() and "type_limits" not in Restrictions().to_json()
    for key, value in (("channel", "WhatsApp"), ("type_limits", [["image/*", 5]])):
        with pytest.raises(ValueError, match=f"{key}: unknown setting"):
            Restrictions.from_mapping({key: value})        # an administrator's [attachments] cannot set them


@pytest.mark.parametrize("limits,message", [
    ([{"types": "not a type", "max_file_size": 5}], "not a pattern"),
    ([{"types": "image/*", "max_file_size": -1}], "negative"),
    ([{"types": "image/*"}], "invalid size"),
    ({"types": "image/*"}, "type_limits"),
])
def test_bad_type_limits_are_refused(limits, message):
    with pytest.raises(ValueError, match=message):
        Restrictions.from_json({"max_file_size": 10, "type_limits": limits})


@pytest.mark.parametrize("status,retryable", [(502, False), (503, True), (422, False), (413, False)])
def test_an_explicit_retryable_wins_over_the_status(status, retryable):
    body = {"error": {"code": "twilio_auth", "message": "Twilio refused this server's credentials.",
                      "hint": "An administrator must check the API key.", "retryable": retryable}}
    error = error_from_response(Response(status, {}, json.dumps(body)))
    assert error.retryable is retryable and error.problem.code == "twilio_auth"


def test_without_the_field_the_status_decides():
    assert error_from_response(Response(502, {}, '{"error": {"code": "x", "message": "y"}}')).retryable is True
    assert error_from_response(Response(502, {}, '{"error": {"code": "x", "retryable": "no"}}')).retryable is True


def test_a_channels_text_limit_is_judged_before_sending():
    from app.core.restrictions import check_text
    sms = Restrictions(5_000_000, (), 1, (), "SMS/MMS", 1600)
    assert check_text("x" * 1600, sms) == [] and check_text("x" * 5000, Restrictions()) == []
    [problem] = check_text("x" * 1601, sms)
    assert (problem.code, problem.message) == ("text_too_long",
                                               "The message is 1,601 characters; the limit on SMS/MMS is 1,600")
    assert Restrictions.from_json(sms.to_json()) == sms and sms.to_json()["max_text_length"] == 1600
    assert "max_text_length" not in Restrictions().to_json()
    with pytest.raises(ValueError, match="max_text_length"):
        Restrictions(max_text_length=-1)


def test_the_composer_keeps_text_a_channel_refuses():
    from app.core.composer import Composer
    composer = Composer(Restrictions(5_000_000, (), 1, (), "WhatsApp", 1600))
    composer.set_text("x" * 1601)
    assert [p.code for p in composer.refusals()] == ["text_too_long"]
    assert composer.take() is None and composer.text == "x" * 1601
    composer.set_text("short")
    assert composer.refusals() == [] and composer.take().text == "short"
