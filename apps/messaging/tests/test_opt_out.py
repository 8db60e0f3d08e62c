"""The network-wide opt-out list, STOP replies in English and Khmer, and blocked recipients."""

import pytest

from apps.accounts.phone import PhoneInvalid
from apps.audit.models import AuditLog
from apps.core.crypto import blind_index
from apps.messaging import services
from apps.messaging.choices import OptOutSource
from apps.messaging.keywords import is_stop_message
from apps.messaging.models import BlockedRecipient, OptOut
from apps.messaging.selectors import recipient_block_reason

PHONE = "+85512345678"


@pytest.mark.parametrize(
    "text",
    ["STOP", "stop", " Stop. ", "STOP ALL", "Unsubscribe", "opt-out", "ឈប់", "ឈប់។", "ឈប់ផ្ញើសារ", "ឈប់\u200bផ្ញើ", "បញ្ឈប់"],
)
def test_stop_messages(text):
    assert is_stop_message(text)


@pytest.mark.parametrize(
    "text",
    ["", "Stop by our shop at 5pm", "Don't stop", "ok thanks", "ឈប់សម្រាកនៅថ្ងៃស្អែក", "STOP" * 20, "1234"],
)
def test_messages_that_are_not_stop_requests(text):
    assert not is_stop_message(text)


@pytest.mark.django_db
def test_stop_reply_opts_the_sender_out_once():
    opt_out = services.opt_out_handle_reply(sender="012 345 678", text="ឈប់")
    again = services.opt_out_handle_reply(sender="+85512345678", text="STOP")
    assert opt_out is not None and again.pk == opt_out.pk
    assert (opt_out.phone, opt_out.source, opt_out.note) == (PHONE, OptOutSource.STOP_KEYWORD, "ឈប់")
    entry = AuditLog.objects.get(action="opt_out.added")
    assert (entry.actor, entry.actor_label, entry.after) == (
        None,
        "messaging:stop_keyword",
        {"phone": "hash:" + blind_index(PHONE), "source": "stop_keyword"},  # the log keeps no number
    )


@pytest.mark.django_db
def test_other_replies_change_nothing():
    assert services.opt_out_handle_reply(sender=PHONE, text="Thank you!") is None
    assert not OptOut.objects.exists()


@pytest.mark.django_db
def test_invalid_number_is_refused():
    with pytest.raises(PhoneInvalid):
        services.opt_out_add(phone="12", source=OptOutSource.API)


@pytest.mark.django_db
def test_staff_removes_an_opt_out(staff):
    services.opt_out_add(phone=PHONE, source=OptOutSource.STAFF, actor=staff, note="asked by phone")
    assert OptOut.objects.get().created_by == staff
    assert services.opt_out_remove(phone="012345678", actor=staff) is True
    assert services.opt_out_remove(phone="012345678", actor=staff) is False
    assert recipient_block_reason(PHONE) is None
    assert list(AuditLog.objects.order_by("id").values_list("action", flat=True)) == [
        "opt_out.added",
        "opt_out.removed",
    ]


@pytest.mark.django_db
def test_block_reason_codes(staff, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert recipient_block_reason(PHONE) is None
    services.blocked_recipient_add(phone=PHONE, reason="harassment complaint", actor=staff)
    with django_assert_num_queries(1):
        assert recipient_block_reason(PHONE) == "recipient_blocked"
    services.opt_out_add(phone=PHONE, source=OptOutSource.STOP_KEYWORD)
    with django_assert_num_queries(1):
        assert recipient_block_reason(PHONE) == "recipient_opted_out"
    assert recipient_block_reason("+85512000001") is None


@pytest.mark.django_db
def test_blocking_again_updates_the_reason(staff):
    services.blocked_recipient_add(phone=PHONE, reason="complaint", actor=staff)
    services.blocked_recipient_add(phone=PHONE, reason="complaint", actor=staff)
    services.blocked_recipient_add(phone=PHONE, reason="court order", actor=staff)
    assert BlockedRecipient.objects.get().reason == "court order"
    assert list(AuditLog.objects.order_by("id").values_list("action", flat=True)) == [
        "blocked_recipient.added",
        "blocked_recipient.updated",
    ]
    assert services.blocked_recipient_remove(phone=PHONE, actor=staff) is True
    assert not BlockedRecipient.objects.exists()
