"""The customer's channel from the participants, and the stricter of the admin's and Twilio's limits."""
from __future__ import annotations

import pytest

from app.core.models import FileInfo
from app.core.restrictions import Restrictions
from server.bridges.twilio.channels import CHAT, SMS, WHATSAPP, channel_of, rules_for
from tests.files import PDF_HEAD, PNG_HEAD
from tests.twilio.rig import participants

ADMIN = Restrictions(25_000_000, ("image/*", ".pdf", ".txt"), 3)


@pytest.mark.parametrize("channel,expected", [
    ("chat", CHAT), ("sms", SMS), ("whatsapp", WHATSAPP), ("whatsapp-as-sms", WHATSAPP)])
def test_channel_from_the_messaging_binding(channel, expected):
    [p] = participants(channel)
    assert channel_of(p) == expected


def test_an_unknown_binding_type_gets_the_strictest_known_limits_under_its_own_name():
    c = channel_of({"identity": None, "messaging_binding": {"type": "messenger", "address": "messenger:123"}})
    assert (c.channel, c.label, c.max_file_size, c.types) == ("messenger", "Messenger", SMS.max_file_size, SMS.types)


def test_chat_only_keeps_the_admin_rules_up_to_150_mb():
    rules = rules_for(ADMIN, participants("chat", "chat"))
    assert rules.restrictions == Restrictions(25_000_000, ADMIN.accepted_types, 1, channel="web chat")
    big_admin = Restrictions(500_000_000, (), 1)
    assert rules_for(big_admin, participants("chat")).restrictions.max_file_size == 150_000_000
    assert rules_for(big_admin, []).describe() == "web chat: files up to 150 MB"


def test_sms_is_5_mb_and_the_types_both_accept():
    rules = rules_for(ADMIN, participants("chat", "sms"))
    r = rules.restrictions
    assert r.max_file_size == 5_000_000 and r.max_files_per_message == 1
    assert set(r.accepted_types) == {"image/jpeg", "image/png", "application/pdf"}   # not mp3/amr/mp4: admin's
    assert rules.describe() == "SMS/MMS: files up to 5 MB"
    [p] = rules.check(FileInfo("scan.pdf", 6_000_000, "application/pdf", PDF_HEAD))
    assert p.code == "too_large" and p.message == "scan.pdf is 6.0 MB; SMS/MMS accepts files up to 5 MB"
    [p] = rules.check(FileInfo("notes.txt", 10, "text/plain", b"hello"))
    assert p.code == "type_not_accepted" and "cannot be sent on SMS/MMS" in p.message
    assert rules.check(FileInfo("photo.png", 4_000_000, "image/png", PNG_HEAD)) == []


def test_whatsapp_is_16_mb_with_images_at_5_mb():
    rules = rules_for(Restrictions(100_000_000, (), 1), participants("whatsapp"))
    assert rules.restrictions.max_file_size == 16_000_000
    assert rules.describe() == "WhatsApp: files up to 16 MB (images up to 5 MB)"
    # what the page gets: the image cap and the channel, so it refuses before uploading
    assert (rules.restrictions.type_limits, rules.restrictions.channel) == ((("image/*", 5_000_000),), "WhatsApp")
    assert rules.restrictions.describe_limit().startswith("WhatsApp: up to 16 MB (images up to 5 MB) · ")
    assert rules.check(FileInfo("scan.pdf", 10_000_000, "application/pdf", PDF_HEAD)) == []
    [p] = rules.check(FileInfo("photo.png", 6_000_000, "image/png", PNG_HEAD))
    assert p.code == "too_large" and p.message == "photo.png is 6.0 MB; WhatsApp accepts images up to 5 MB"
    [p] = rules.check(FileInfo("clip.mp4", 17_000_000, "video/mp4", b""))
    assert p.message == "clip.mp4 is 17.0 MB; WhatsApp accepts files up to 16 MB"


def test_the_admin_limit_wins_when_it_is_stricter_and_keeps_its_own_words():
    rules = rules_for(Restrictions(1_000_000, (), 1), participants("whatsapp"))
    assert rules.restrictions.type_limits == ()   # 5 MB images: moot under a 1 MB limit
    [p] = rules.check(FileInfo("scan.pdf", 2_000_000, "application/pdf", PDF_HEAD))
    assert p.message == "scan.pdf is 2.0 MB; the limit is 1 MB"


def test_sms_and_whatsapp_together_take_the_strictest():
    rules = rules_for(ADMIN, participants("whatsapp", "sms"))
    assert rules.restrictions.max_file_size == 5_000_000 and rules.strictest == SMS


def test_no_common_type_means_no_files_not_any_file():
    rules = rules_for(Restrictions(25_000_000, (".zip",), 1), participants("sms"))
    assert not rules.files_allowed and rules.restrictions.accepted_types   # never () = "any type"
    [p] = rules.check(FileInfo("a.png", 10, "image/png", PNG_HEAD))
    assert p.message == "a.png: no file type is accepted both here and on SMS/MMS"




@pytest.mark.parametrize("channels,limit", [(("chat",), 25_000_000), (("chat", "sms"), 5_000_000),
                                            (("chat", "whatsapp"), 16_000_000)])
async def test_rules_read_the_participants_through_prism(bridge, fake, channels, limit, contract):
    bridge.admin = Restrictions(25_000_000, (), 1)
    cid = fake.conversation(*participants(*channels))
    rules = await bridge.rules(cid)
    assert rules.restrictions.max_file_size == limit
    assert fake.calls("GET", f"/{cid}/Participants")[0].query == {"PageSize": "100"}


async def test_participants_on_later_pages_count_and_paging_links_stay_local(bridge, fake, contract):
    fake.participants_page = 2
    try:
        cid = fake.conversation(*participants("chat", "chat", "chat", "chat", "whatsapp"))
        rules = await bridge.rules(cid)
    finally:
        fake.participants_page = 50
    assert rules.strictest == WHATSAPP
    pages = fake.calls("GET", f"/{cid}/Participants")
    assert [p.query.get("Page") for p in pages] == [None, "1", "2"]   # the next_page_url links, rewritten
