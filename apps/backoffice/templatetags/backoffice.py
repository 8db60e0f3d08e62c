from typing import Any

from django import template
from django.conf import settings

from apps.backoffice.analytics import PAGES
from apps.backoffice.views import dashboard_context

register = template.Library()


@register.inclusion_tag("backoffice/dashboard.html")
def operations_dashboard() -> dict[str, Any]:
    """The dashboard on the admin index (templates/admin/index.html)."""
    return {**dashboard_context(), "pages": PAGES, "refresh_seconds": settings.BACKOFFICE_DASHBOARD_REFRESH_SECONDS}
