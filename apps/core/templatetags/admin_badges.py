"""`{% admin_badge model %}`: the count an app registered for a model's list (apps.core.admin.BADGES), or 0."""

from django import template
from django.db import models

from apps.core.admin import BADGES

register = template.Library()


@register.simple_tag
def admin_badge(model: type[models.Model] | None) -> int:
    count = BADGES.get(model._meta.label_lower) if model is not None else None
    return count() if count else 0
