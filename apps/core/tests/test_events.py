"""The in-process event hook (`apps.core.events`): lower apps publish, higher apps subscribe."""

from dataclasses import dataclass

import pytest
from django.db import transaction

from apps.core import events
from apps.core.events import publish, subscribe, unsubscribe


@dataclass(frozen=True)
class Happened:
    what: str


@dataclass(frozen=True)
class HappenedToo(Happened):
    pass


@pytest.fixture
def received():
    seen: list[tuple[str, object]] = []

    def first(event: object) -> None:
        seen.append(("first", event))

    def second(event: object) -> None:
        seen.append(("second", event))

    subscribe(Happened, first)
    subscribe(Happened, second)
    subscribe(Happened, first)  # again (AppConfig.ready may run twice): still called once
    yield seen
    unsubscribe(Happened, first)
    unsubscribe(Happened, second)
    assert Happened not in events._handlers or not events._handlers[Happened]


def test_handlers_get_the_event_once_each_in_the_order_they_subscribed(received):
    publish(Happened("x"))
    assert received == [("first", Happened("x")), ("second", Happened("x"))]


def test_only_handlers_of_the_exact_event_class_are_called(received):
    publish(HappenedToo("subclass"))  # its own class: nobody subscribed to it
    publish(object())
    assert received == []


def test_an_unsubscribed_handler_is_not_called_again(received):
    unsubscribe(Happened, received.append)  # never subscribed: no effect
    publish(Happened("a"))
    assert len(received) == 2


@pytest.mark.django_db(transaction=True)
def test_handlers_run_inside_the_publishers_transaction_and_their_error_rolls_it_back():
    from apps.accounts.models import User

    def refuse(event: Happened) -> None:
        assert transaction.get_connection().in_atomic_block  # called before the publisher's commit
        raise RuntimeError(event.what)

    subscribe(Happened, refuse)
    try:
        with pytest.raises(RuntimeError, match="no"), transaction.atomic():
            User.objects.create_user(phone="+85512000111")
            publish(Happened("no"))
    finally:
        unsubscribe(Happened, refuse)
    assert not User.objects.filter(phone="+85512000111").exists()


def test_delivery_subscribes_to_messaging_status_changes():
    from apps.backoffice.rollup import rollup_on_status_changed
    from apps.delivery.webhooks.services import webhook_events_on_status_changed
    from apps.incentives.rewards import rewards_on_message_status_changed
    from apps.messaging.events import MessageStatusChanged

    # Delivery stores the webhook event; incentives, higher up, books the delivery's reward; the back office counts
    # it in its hourly figures.
    # (Each runs in the publisher's transaction and depends on none of the others: their order is not part of it.)
    assert sorted(events._handlers[MessageStatusChanged], key=lambda handler: handler.__qualname__) == [
        rewards_on_message_status_changed,
        rollup_on_status_changed,
        webhook_events_on_status_changed,
    ]


def test_incentives_subscribes_to_fraud_strikes():
    from apps.delivery.events import FraudStrikeRecorded
    from apps.incentives.rewards import rewards_on_fraud_strike

    assert events._handlers[FraudStrikeRecorded] == [rewards_on_fraud_strike]


def test_incentives_subscribes_to_cleared_strikes():
    from apps.delivery.events import FraudStrikeCleared
    from apps.incentives.strike_clearing import rewards_on_strike_cleared

    assert events._handlers[FraudStrikeCleared] == [rewards_on_strike_cleared]
