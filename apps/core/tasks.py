"""Platform tasks."""

from celery import shared_task


@shared_task(name="core.ping", ignore_result=False, acks_late=False)
def ping(value: str = "pong") -> str:
    """Round trip through the broker and a worker; used by tests and operators to see that workers consume."""
    return value
