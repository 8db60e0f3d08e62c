"""Messaging services: the rules (filter terms, opt-outs, blocks), accepting messages, and dispatching them."""

from apps.messaging.services.dispatch import (
    job_end,
    jobs_expire_overdue,
    message_dispatch,
    message_requeue,
    messages_dispatch,
    messages_dispatch_due,
    messages_reconcile,
    messages_wake,
)
from apps.messaging.services.expiry import messages_expire_overdue
from apps.messaging.services.jobs import job_accept, job_release_and_rematch, jobs_accept
from apps.messaging.services.rules import (
    blocked_recipient_add,
    blocked_recipient_remove,
    filter_rule_delete,
    filter_rule_save,
    filter_rules_set_active,
    opt_out_add,
    opt_out_handle_reply,
    opt_out_remove,
)
from apps.messaging.services.sending import (
    BulkItemResult,
    MessageInput,
    message_cancel,
    message_moderate,
    message_submit,
    message_submit_bulk,
)

__all__ = [
    "BulkItemResult",
    "MessageInput",
    "blocked_recipient_add",
    "blocked_recipient_remove",
    "filter_rule_delete",
    "filter_rule_save",
    "filter_rules_set_active",
    "job_accept",
    "job_end",
    "job_release_and_rematch",
    "jobs_accept",
    "jobs_expire_overdue",
    "message_cancel",
    "message_dispatch",
    "message_moderate",
    "message_requeue",
    "message_submit",
    "message_submit_bulk",
    "messages_dispatch",
    "messages_dispatch_due",
    "messages_expire_overdue",
    "messages_reconcile",
    "messages_wake",
    "opt_out_add",
    "opt_out_handle_reply",
    "opt_out_remove",
]
