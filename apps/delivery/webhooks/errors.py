"""Webhook errors with stable codes. A refused webhook URL (`WebhookUrlRefused` and its kinds) is the SSRF guard's,
in `apps.core.addresses`, as messaging checks callback URLs with it too."""

from django.utils.translation import gettext_lazy as _

from apps.core.errors import Conflict


class WebhookEndpointLimit(Conflict):
    code = "webhook_endpoint_limit"
    default_message = _("This client has as many webhook endpoints as allowed. Delete one first.")


class WebhookEndpointNotEnabled(Conflict):
    """Resending to an endpoint that is switched off, disabled or gone."""

    code = "webhook_endpoint_not_enabled"
    default_message = _("The webhook endpoint is switched off or disabled.")
