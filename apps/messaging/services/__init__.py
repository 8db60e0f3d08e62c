"""Messaging services: the rules (filter terms, opt-outs, blocks), accepting messages (`sending`), signalling and
running the dispatcher (`signal`, `dispatch`), leases ending and the sweeps (`leases`), and every write to a job from
outside messaging (`jobs`: the phone's acknowledgement and reports, the push channel's bookkeeping)."""

from apps.messaging.services.dispatch import messages_dispatch_due, messages_dispatch_until_done, messages_wake
from apps.messaging.services.expiry import messages_expire_overdue
from apps.messaging.services.jobs import (
    Resolution,
    job_accept,
    job_release_and_rematch,
    job_resolve,
    job_sent,
    jobs_accept,
    jobs_push_record,
    jobs_sent,
)
from apps.messaging.services.leases import (
    job_end,
    jobs_end,
    jobs_expire_overdue,
    message_requeue,
    messages_reconcile,
)
from apps.messaging.services.rules import (
    blocked_recipient_add,
    blocked_recipient_remove,
    filter_rule_delete,
    filter_rule_save,
    filter_rules_set_active,
    opt_out_add,
    opt_out_handle_reply,
    opt_out_remove,
    stop_keyword_add,
    stop_keyword_remove,
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
    "Resolution",
    "blocked_recipient_add",
    "blocked_recipient_remove",
    "filter_rule_delete",
    "filter_rule_save",
    "filter_rules_set_active",
    "job_accept",
    "job_end",
    "job_release_and_rematch",
    "job_resolve",
    "job_sent",
    "jobs_accept",
    "jobs_end",
    "jobs_expire_overdue",
    "jobs_push_record",
    "jobs_sent",
    "message_cancel",
    "message_moderate",
    "message_requeue",
    "message_submit",
    "message_submit_bulk",
    "messages_dispatch_due",
    "messages_dispatch_until_done",
    "messages_expire_overdue",
    "messages_reconcile",
    "messages_wake",
    "opt_out_add",
    "opt_out_handle_reply",
    "opt_out_remove",
    "stop_keyword_add",
    "stop_keyword_remove",
]
