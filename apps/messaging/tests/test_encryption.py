"""Message bodies and recipients at rest: encrypted in the database, plain to the code, found by the recipient's
keyed hash (admin search too), re-encrypted under a new key in batches while old values stay readable."""

import pytest
from django.core.exceptions import FieldError
from django.core.management import call_command
from django.db import connection

from apps.core import crypto
from apps.core.encrypted_rows import reencrypt_batches
from apps.messaging.models import Message
from apps.messaging.services import MessageInput, message_submit

pytestmark = pytest.mark.django_db

NEW_KEY = "k2=bmV3LXRlc3Qta2V5LWZvci1yb3RhdGlvbi0wMDAwMDE="


def raw(message: Message, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {connection.ops.quote_name(column)} FROM messaging_message WHERE id = %s", [message.pk])  # noqa: S608
        return cursor.fetchone()[0]


@pytest.fixture
def message(organization):
    return message_submit(
        organization=organization, api_key=None, data=MessageInput(to="012 345 678", body="Your code is 482913")
    )


def test_body_and_recipient_are_stored_encrypted_and_read_plain(message):
    assert raw(message, "body").startswith("pp1.test1.") and "482913" not in raw(message, "body")
    assert raw(message, "to").startswith("pp1.test1.") and "12345678" not in raw(message, "to")
    assert raw(message, "to_hash") == crypto.blind_index("+85512345678")
    stored = Message.objects.get(pk=message.pk)
    assert (stored.body, stored.to) == ("Your code is 482913", "+85512345678")


def test_a_bulk_send_stores_its_rows_encrypted_too(organization):
    # Bulk rows take their own INSERT on PostgreSQL (apps.messaging.inserting): the fields still prepare them.
    from apps.messaging.services import message_submit_bulk

    items = [MessageInput(to=f"012 345 67{n}", body=f"Your code is 48291{n}") for n in range(3)]
    results = message_submit_bulk(organization=organization, api_key=None, items=items)
    for n, result in enumerate(results):
        assert raw(result.message, "body").startswith("pp1.test1.") and "48291" not in raw(result.message, "body")
        assert raw(result.message, "to_hash") == crypto.blind_index(f"+8551234567{n}")
        assert Message.objects.get(pk=result.message.pk).body == f"Your code is 48291{n}"


def test_encrypted_columns_refuse_lookups_by_value(message):
    with pytest.raises(FieldError, match="blind index"):
        Message.objects.filter(to="+85512345678").exists()
    with pytest.raises(FieldError):
        Message.objects.filter(body__contains="482913").exists()
    assert Message.objects.filter(to_hash=crypto.blind_index("+85512345678")).get() == message


def test_staff_find_messages_by_the_number_as_people_write_it(message, organization, client, staff):
    other = message_submit(organization=organization, api_key=None, data=MessageInput(to="012 345 679", body="Hi"))
    client.force_login(staff)
    page = client.get("/admin/messaging/message/", {"q": "012 345 678"})
    assert page.status_code == 200
    assert [row.pk for row in page.context["cl"].result_list] == [message.pk]
    assert other.pk not in [
        row.pk for row in client.get("/admin/messaging/message/", {"q": "x"}).context["cl"].result_list
    ]


def test_rotation_re_encrypts_in_batches_and_old_values_stay_readable_meanwhile(message, organization, settings):
    second = message_submit(organization=organization, api_key=None, data=MessageInput(to="012 345 679", body="Hi"))
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, *settings.FIELD_ENCRYPTION_KEYS]
    assert Message.objects.get(pk=message.pk).body == "Your code is 482913"  # still under the old key

    assert list(reencrypt_batches(Message, batch_size=1)) == [1, 1]
    assert crypto.key_id_of(raw(message, "body")) == crypto.key_id_of(raw(second, "to")) == "k2"
    assert list(reencrypt_batches(Message, batch_size=1)) == [0, 0]  # nothing left under the old key
    call_command("encryption_rotate", stdout=open("/dev/null", "w"))  # the other tables (the users' phones)

    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]  # the old key removed
    assert Message.objects.get(pk=message.pk).body == "Your code is 482913"
    call_command("encryption_rotate", stdout=open("/dev/null", "w"))


def test_rows_written_before_encryption_are_converted(message):
    with connection.cursor() as cursor:
        cursor.execute(
            'UPDATE messaging_message SET body = %s, "to" = %s, to_hash = %s WHERE id = %s',
            ["plain body", "+85512345670", "stale", message.pk],
        )
    assert Message.objects.get(pk=message.pk).body == "plain body"  # read as it is until converted
    assert sum(reencrypt_batches(Message)) == 1
    assert raw(message, "body").startswith("pp1.") and raw(message, "to_hash") == crypto.blind_index("+85512345670")
    assert Message.objects.get(pk=message.pk).to == "+85512345670"


def test_opt_outs_and_blocks_are_encrypted_and_still_refuse_the_number(organization):
    from apps.messaging.errors import RecipientBlocked, RecipientOptedOut
    from apps.messaging.services import blocked_recipient_add, opt_out_add

    opt_out_add(phone="012 345 678", source="api")
    blocked_recipient_add(phone="012 345 679", reason="complaint", actor=None)
    rows = []
    with connection.cursor() as cursor:
        for table in ("messaging_optout", "messaging_blockedrecipient"):
            cursor.execute(f"SELECT phone, phone_hash FROM {table}")  # noqa: S608 - constant table names
            rows += cursor.fetchall()
    assert all(phone.startswith("pp1.") for phone, _ in rows)
    assert {phone_hash for _, phone_hash in rows} == {
        crypto.blind_index("+85512345678"),
        crypto.blind_index("+85512345679"),
    }
    for number, error in (("012 345 678", RecipientOptedOut), ("012 345 679", RecipientBlocked)):
        with pytest.raises(error):
            message_submit(organization=organization, api_key=None, data=MessageInput(to=number, body="Hi"))
