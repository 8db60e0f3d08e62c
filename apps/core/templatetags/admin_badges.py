"""`{% admin_badge model %}`: the count an app registered for a model's list (apps.core.admin.BADGES), or 0."""

from typing import Any

from django import template

from apps.core.admin import BADGES

register = template.Library()


@register.simple_tag
def admin_badge(entry: dict[str, Any]) -> int:
    """`entry` is one model of the admin's app list (a dict). The tag takes the dict, not `entry.model`: a template
    calls whatever callable it resolves, and a model class called is a new instance — every model of the index
    built on each request, with its fields' defaults (django-celery-beat's crontab default lists every time zone on
    disk), which cost the dashboard page more than its figures."""
    model = entry.get("model")
    count = BADGES.get(model._meta.label_lower) if model is not None else None
    return count() if count else 0
