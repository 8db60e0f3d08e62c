"""Per-request / per-task context (request id, client IP, task id) carried in context variables.

Logging, the audit log and the replica router read it; the request middleware and Celery signals set it.
"""

from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
client_ip_var: ContextVar[str | None] = ContextVar("client_ip", default=None)
task_id_var: ContextVar[str | None] = ContextVar("task_id", default=None)
# True once this request or task has written to the primary database (read-your-writes, see db_router).
wrote_to_primary_var: ContextVar[bool] = ContextVar("wrote_to_primary", default=False)


def reset_context(*, request_id: str | None = None, client_ip: str | None = None, task_id: str | None = None) -> None:
    """Start a fresh unit of work: a request or a task never inherits another's context."""
    request_id_var.set(request_id)
    client_ip_var.set(client_ip)
    task_id_var.set(task_id)
    wrote_to_primary_var.set(False)
