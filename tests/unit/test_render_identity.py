"""Sides, names and the sign-in notice follow the token: render.message_view and notice_html."""
from __future__ import annotations

from app import render
from app.core.models import Message, Problem


def message(sender: str, name: str = "", role: str = "", seq: int = 1) -> Message:
    return Message(id=f"m{seq}", seq=seq, sender=sender, text="hi", attachments=(),
                   created_at="2026-11-25T15:04:05Z", sender_name=name, sender_role=role)


def test_my_messages_are_those_whose_sender_is_my_sub():
    view = render.message_view(message("u-ann", "Ann Agent", "agent"), "u-ann", {})
    assert (view["side"], view["sender_label"]) == ("mine", "You")


def test_two_agents_see_each_other_by_the_name_in_their_tokens():
    ann, bob = message("u-ann", "Ann Agent", "agent", 1), message("u-bob", "Bob Agent", "agent", 2)
    as_ann = [render.message_view(m, "u-ann", {}) for m in (ann, bob)]
    as_bob = [render.message_view(m, "u-bob", {}) for m in (ann, bob)]
    assert [(v["side"], v["sender_label"]) for v in as_ann] == [("mine", "You"), ("theirs", "Bob Agent")]
    assert [(v["side"], v["sender_label"]) for v in as_bob] == [("theirs", "Ann Agent"), ("mine", "You")]


def test_the_servers_name_wins_then_the_configs_then_the_id():
    assert render.message_view(message("customer", "Cleo"), "agent", {"customer": "Customer"})["sender_label"] == "Cleo"
    assert render.message_view(message("customer"), "agent", {"customer": "The customer"})["sender_label"] == \
        "The customer"
    assert render.message_view(message("customer"), "agent", {})["sender_label"] == "Customer"


def test_a_hostile_sender_name_is_escaped():
    html = render.messages_html([message("u-x", "<img src=x onerror=alert(1)>")], "u-me", {})
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_a_notice_may_offer_an_action():
    html = render.notice_html("signin", Problem("signed_out", "Sign in again.", "Then try again."),
                              action="sign-in-retry", action_label="Try again")
    assert 'id="notice-signin"' in html and 'role="alert"' in html
    assert '<button type="button" class="btn btn-quiet" data-action="sign-in-retry">Try again</button>' in html


def test_a_notice_without_action_has_only_dismiss():
    html = render.notice_html(3, Problem("x", "m"))
    assert html.count("<button") == 1 and 'data-action="dismiss"' in html
