"""Reading the tasks waiting in the real broker's queues, whatever the broker (Redis in the PostgreSQL + Redis run,
the SQLite-backed transport of the embedded default): through kombu, as the workers read them."""

from dataclasses import dataclass
from datetime import datetime

from kombu.exceptions import ChannelError

from peerpower.celery import app


@dataclass(frozen=True)
class QueuedTask:
    name: str
    args: list
    starts_at: float | None  # the task's eta as a Unix time; None: at once


def broker_purge(*queues: str) -> None:
    with app.connection_for_write() as connection, connection.channel() as channel:
        for name in queues:
            channel.queue_declare(queue=name)
            channel.queue_purge(name)


def broker_take(queue: str) -> list[QueuedTask]:
    """Take every task waiting in `queue`, oldest first (they are consumed: a test reads a queue once)."""
    tasks = []
    with app.connection_for_write() as connection, connection.channel() as channel:
        while True:
            try:
                message = channel.basic_get(queue=queue, no_ack=True)
            except ChannelError:  # Redis keeps no empty queue: not found means empty
                break
            if message is None:
                break
            eta = message.headers.get("eta")
            tasks.append(
                QueuedTask(
                    name=message.headers["task"],
                    args=list(message.decode()[0]),
                    starts_at=datetime.fromisoformat(eta).timestamp() if eta else None,
                )
            )
    return tasks
