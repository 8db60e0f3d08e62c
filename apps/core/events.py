"""In-process domain events: how a lower app tells higher apps that something happened without importing them.

Apps are layered (see `[tool.importlinter]` in pyproject.toml): a lower app (messaging) may not import a higher one
(delivery). When the lower app's change must set off the higher app's work — a message reached a status its client
hears about, so delivery stores a webhook event — the lower app defines an event class and `publish`es an instance;
the higher app `subscribe`s a handler to that class in its `AppConfig.ready`. The event class belongs to the
publisher, so the import goes upward-to-downward only.

Handlers run synchronously, in the publisher's thread and inside its transaction, in the order they subscribed.
That is deliberate: what a handler stores (the webhook event and its deliveries) commits or rolls back with the
change that caused it, so a crash between the commit and an after-commit hook can never lose it. A handler that
does outside work (enqueue a task, call a service on the network) defers it with `transaction.on_commit`, as every
side effect in this project does. A handler's exception propagates to the publisher and rolls its change back.

`publish` with no subscriber costs one dictionary lookup, so it is cheap enough for the dispatch and report paths.
"""

from collections.abc import Callable
from typing import Any, TypeVar

Event = TypeVar("Event")
Handler = Callable[[Any], None]

_handlers: dict[type, list[Handler]] = {}


def subscribe(event_type: type[Event], handler: Callable[[Event], None]) -> None:
    """Call `handler(event)` for every event of exactly `event_type` published from now on. Subscribing the same
    handler twice has no effect (`ready()` may run more than once in tests)."""
    handlers = _handlers.setdefault(event_type, [])
    if handler not in handlers:
        handlers.append(handler)


def unsubscribe(event_type: type[Event], handler: Callable[[Event], None]) -> None:
    """Stop calling `handler` for `event_type` (tests that subscribe a handler of their own)."""
    handlers = _handlers.get(event_type, [])
    if handler in handlers:
        handlers.remove(handler)


def publish(event: object) -> None:
    """Hand `event` to the handlers subscribed to its class, synchronously, in subscription order."""
    for handler in _handlers.get(type(event), ()):
        handler(event)
