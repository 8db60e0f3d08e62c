"""GET /api/messages, /api/messages/{id} and cancel: a client sees and touches only its own messages."""

import pytest

from apps.messaging.models import Message

pytestmark = pytest.mark.django_db


def submit(client, **payload):
    payload.setdefault("to", "012 345 678")
    payload.setdefault("body", "hello")
    response = client.post("/api/messages/send", payload, format="json")
    assert response.status_code == 202, response.json()
    return response.json()


def test_get_own_message(client_api):
    sent = submit(client_api, reference="r1")
    assert client_api.get(f"/api/messages/{sent['id']}").json() == sent


def test_list_filters_and_cursor_pagination(client_api, django_assert_max_num_queries):
    for n in range(5):
        submit(client_api, reference=f"ref-{n % 2}")
    with django_assert_max_num_queries(2):  # the API key lookup and one page of messages
        page = client_api.get("/api/messages", {"limit": 2}).json()
    assert len(page["results"]) == 2 and page["next"]
    second = client_api.get(page["next"]).json()
    seen = [m["id"] for m in page["results"] + second["results"]]
    assert len(set(seen)) == 4
    assert {m["reference"] for m in client_api.get("/api/messages", {"reference": "ref-1"}).json()["results"]} == {
        "ref-1"
    }
    assert client_api.get("/api/messages", {"status": "delivered"}).json()["results"] == []
    bad = client_api.get("/api/messages", {"status": "nope"})
    assert (bad.status_code, bad.json()["code"]) == (400, "validation_error")


def test_another_client_cannot_see_or_cancel(client_api, other_client_api, api_client):
    sent = submit(client_api)
    assert other_client_api.get(f"/api/messages/{sent['id']}").status_code == 404
    assert other_client_api.post(f"/api/messages/{sent['id']}/cancel").status_code == 404
    assert other_client_api.get("/api/messages").json()["results"] == []
    assert api_client.get(f"/api/messages/{sent['id']}").status_code == 401
    assert Message.objects.get().status == "queued"


def test_cancel_before_sending_and_not_after(client_api):
    sent = submit(client_api)
    cancelled = client_api.post(f"/api/messages/{sent['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = client_api.post(f"/api/messages/{sent['id']}/cancel")
    assert (again.status_code, again.json()["code"]) == (409, "message_not_cancellable")


def test_the_send_paths_representation_is_the_serializers(client_api):
    """`message_output` (the send and bulk answers, webhooks) reads the row itself: it must answer exactly what
    `MessageOutputSerializer` does (the list and detail answers), every field set or not."""
    from datetime import timedelta

    from django.utils import timezone

    from apps.messaging.representation import MessageOutputSerializer, message_output

    sent = submit(client_api, reference="r1", scheduled_at=(timezone.now() + timedelta(hours=1)).isoformat())
    message = Message.objects.get(pk=sent["id"])
    assert message_output(message) == MessageOutputSerializer(message).data == sent
    now = timezone.now()
    Message.objects.filter(pk=message.pk).update(
        status="delivered", sent_at=now, delivered_at=now, price_held=24, price_charged=12, segments=2
    )
    message.refresh_from_db()
    assert message_output(message) == MessageOutputSerializer(message).data
    assert message_output(message)["price"]["charged"] == 12
