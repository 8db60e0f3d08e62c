"""Writes of messaging data. Each function owns its transaction and writes the audit entry inside it."""

from collections.abc import Collection
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.forms.models import model_to_dict

from apps.accounts.phone import normalize_phone
from apps.audit.services import audit_record
from apps.core.crypto import blind_index
from apps.messaging.choices import OptOutSource
from apps.messaging.filtering.runtime import publish_rules_changed
from apps.messaging.keywords import StopScope, stop_scope
from apps.messaging.models import BlockedRecipient, DomainRule, FilterTerm, OptOut, StopKeyword

FilterRule = FilterTerm | DomainRule
_RULE_FIELDS = {
    FilterTerm: ("term", "language", "category", "weight", "active", "note"),
    DomainRule: ("domain", "kind", "weight", "brand", "active", "note"),
}
_RULE_ACTIONS = {FilterTerm: "filter_term", DomainRule: "domain_rule"}


# --- Opt-outs and blocked recipients -----------------------------------------------------------------------------


@transaction.atomic
def opt_out_add(
    *, phone: str, source: OptOutSource, actor: Any = None, note: str = "", organization_id: int | None = None
) -> OptOut:
    """Put a number on the network-wide opt-out list, for every client or only `organization_id` (idempotent: an
    existing entry is returned unchanged).

    `phone` may be typed as people do ("012 345 678"); invalid numbers raise the phone_* errors.
    """
    e164 = normalize_phone(phone).e164
    opt_out, created = OptOut.objects.get_or_create(
        phone_hash=blind_index(e164),  # the number is encrypted: found by its keyed hash
        organization_id=organization_id,
        defaults={
            "phone": e164,
            "source": source,
            "note": note[:200],
            "created_by": actor if _is_person(actor) else None,
        },
    )
    if created:
        after = {"phone": e164, "source": str(source)}
        if organization_id:
            after["organization"] = organization_id
        audit_record(
            actor=actor,
            action="opt_out.added",
            target=opt_out,
            after=after,
            system_actor=f"messaging:{source}",
        )
    return opt_out


def opt_out_handle_reply(
    *, sender: str, text: str, organization_id: int | None = None, client_keywords: Collection[str] = ()
) -> OptOut | None:
    """A reply a provider phone received (to a message of client `organization_id`, when known): opt the sender out
    if it asks to stop — from every client ("STOP ALL", "ឈប់ទាំងអស់"), else from that client — or do nothing."""
    scope = stop_scope(text, client_keywords=client_keywords)
    if scope is None:
        return None
    for_client = organization_id if scope == StopScope.CLIENT else None
    return opt_out_add(phone=sender, source=OptOutSource.STOP_KEYWORD, note=text, organization_id=for_client)


@transaction.atomic
def opt_out_remove(*, phone: str, actor: Any, organization_id: int | None = None) -> bool:
    """Take a number off the opt-out list, for every client or for `organization_id` (the person asked to receive
    messages again). False if it was not on."""
    e164 = normalize_phone(phone).e164
    opt_out = (
        OptOut.objects.select_for_update().filter(phone_hash=blind_index(e164), organization_id=organization_id).first()
    )
    if opt_out is None:
        return False
    audit_record(
        actor=actor, action="opt_out.removed", target=opt_out, before={"phone": e164, "source": opt_out.source}
    )
    opt_out.delete()
    return True


@transaction.atomic
def stop_keyword_add(*, organization: Any, keyword: str, actor: Any) -> StopKeyword:
    """A stop word of the client's own (idempotent)."""
    keyword = " ".join(keyword.split())[:64]
    entry, created = StopKeyword.objects.get_or_create(organization=organization, keyword=keyword)
    if created:
        audit_record(
            actor=actor,
            action="stop_keyword.added",
            target=entry,
            after={"organization": organization.pk, "keyword": keyword},
        )
    return entry


@transaction.atomic
def stop_keyword_remove(*, keyword: StopKeyword, actor: Any) -> None:
    audit_record(
        actor=actor,
        action="stop_keyword.removed",
        target=keyword,
        before={"organization": keyword.organization_id, "keyword": keyword.keyword},
    )
    keyword.delete()


@transaction.atomic
def blocked_recipient_add(*, phone: str, reason: str, actor: Any) -> BlockedRecipient:
    """Block a number for every client; blocking it again updates the reason."""
    e164 = normalize_phone(phone).e164
    reason = reason.strip()[:200]
    blocked, created = BlockedRecipient.objects.select_for_update().get_or_create(
        phone_hash=blind_index(e164),
        defaults={"phone": e164, "reason": reason, "created_by": actor if _is_person(actor) else None},
    )
    if created:
        audit_record(
            actor=actor, action="blocked_recipient.added", target=blocked, after={"phone": e164, "reason": reason}
        )
    elif blocked.reason != reason:
        before = {"reason": blocked.reason}
        blocked.reason = reason
        blocked.save(update_fields=["reason"])
        audit_record(
            actor=actor, action="blocked_recipient.updated", target=blocked, before=before, after={"reason": reason}
        )
    return blocked


@transaction.atomic
def blocked_recipient_remove(*, phone: str, actor: Any) -> bool:
    e164 = normalize_phone(phone).e164
    blocked = BlockedRecipient.objects.select_for_update().filter(phone_hash=blind_index(e164)).first()
    if blocked is None:
        return False
    audit_record(
        actor=actor,
        action="blocked_recipient.removed",
        target=blocked,
        before={"phone": e164, "reason": blocked.reason},
    )
    blocked.delete()
    return True


# --- Content filter rules ----------------------------------------------------------------------------------------


@transaction.atomic
def filter_rule_save(*, rule: FilterRule, actor: Any) -> FilterRule:
    """Create or change a filter term or domain rule (validated and normalised), then refresh every process's
    compiled filter once the change commits."""
    rule.full_clean()
    model = type(rule)
    before = None
    if rule.pk is not None:
        previous = model.objects.select_for_update().filter(pk=rule.pk).first()
        before = _snapshot(previous) if previous is not None else None
    rule.save()
    after = _snapshot(rule)
    if after != before:
        verb = "created" if before is None else "updated"
        audit_record(actor=actor, action=f"{_RULE_ACTIONS[model]}.{verb}", target=rule, before=before, after=after)
        transaction.on_commit(publish_rules_changed)
    return rule


@transaction.atomic
def filter_rule_delete(*, rule: FilterRule, actor: Any) -> None:
    audit_record(actor=actor, action=f"{_RULE_ACTIONS[type(rule)]}.deleted", target=rule, before=_snapshot(rule))
    rule.delete()
    transaction.on_commit(publish_rules_changed)


@transaction.atomic
def filter_rules_set_active(*, rules: QuerySet, active: bool, actor: Any) -> int:
    """Switch several terms or domain rules on or off; returns how many changed."""
    changed = 0
    for rule in rules.select_for_update().filter(active=not active):
        rule.active = active
        rule.save(update_fields=["active", "updated_at"])
        action = f"{_RULE_ACTIONS[type(rule)]}.{'activated' if active else 'deactivated'}"
        audit_record(actor=actor, action=action, target=rule, before={"active": not active}, after={"active": active})
        changed += 1
    if changed:
        transaction.on_commit(publish_rules_changed)
    return changed


def _snapshot(rule: FilterRule) -> dict[str, Any]:
    return model_to_dict(rule, fields=_RULE_FIELDS[type(rule)])


def _is_person(actor: Any) -> bool:
    return actor is not None and getattr(actor, "is_authenticated", False)
