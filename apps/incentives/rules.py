"""Staff's incentive rules (reward rates, surge bounds, bonuses): saved and deleted through here, audited."""

from typing import Any

from django.db import transaction
from django.forms.models import model_to_dict

from apps.audit.services import audit_record
from apps.incentives.models import BonusRule, RewardRule, SurgeBounds

_ACTIONS = {RewardRule: "reward_rule", SurgeBounds: "surge_bounds", BonusRule: "bonus_rule"}
_FIELDS = {
    RewardRule: ["route", "priority", "amount_per_segment", "valid_from", "valid_until", "note"],
    SurgeBounds: ["carrier", "route", "floor_bp", "ceiling_bp", "valid_from", "valid_until", "note"],
    BonusRule: ["kind", "amounts", "scope", "min_segments", "min_score", "min_uptime_bp", "valid_from", "valid_until",
                "note"],
}  # fmt: skip


def _snapshot(rule: RewardRule | SurgeBounds | BonusRule) -> dict:
    values = model_to_dict(rule, fields=_FIELDS[type(rule)])
    return {name: value.isoformat() if hasattr(value, "isoformat") else value for name, value in values.items()}


@transaction.atomic
def incentive_rule_save(
    *, rule: RewardRule | SurgeBounds | BonusRule, actor: Any
) -> RewardRule | SurgeBounds | BonusRule:
    """Create or change a reward rule or surge bounds (validated), audited with what it was and is."""
    rule.full_clean()
    before = None
    if rule.pk is not None:
        previous = type(rule).objects.select_for_update().filter(pk=rule.pk).first()
        before = _snapshot(previous) if previous is not None else None
    elif getattr(actor, "is_authenticated", False):
        rule.created_by = actor
    rule.save()
    after = _snapshot(rule)
    if after != before:
        verb = "created" if before is None else "updated"
        audit_record(actor=actor, action=f"{_ACTIONS[type(rule)]}.{verb}", target=rule, before=before, after=after)
    return rule


@transaction.atomic
def incentive_rule_delete(*, rule: RewardRule | SurgeBounds | BonusRule, actor: Any) -> None:
    """Delete a rule nothing used yet (the admin refuses otherwise), audited."""
    audit_record(actor=actor, action=f"{_ACTIONS[type(rule)]}.deleted", target=rule, before=_snapshot(rule))
    rule.delete()
