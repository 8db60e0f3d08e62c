"""Webhook errors with stable codes. A refused URL is a 400 whose code says why, the same at endpoint registration
and when a message names a callback URL."""

from django.utils.translation import gettext_lazy as _

from apps.core.errors import Conflict, ValidationFailed


class WebhookUrlRefused(ValidationFailed):
    """Base of the URL refusals; `details.url` is the refused URL."""

    code = "webhook_url_invalid"
    default_message = _("The webhook URL must be an absolute http or https URL with a host name.")


class WebhookUrlHttpsRequired(WebhookUrlRefused):
    code = "webhook_url_https_required"
    default_message = _("The webhook URL must use https.")


class WebhookUrlPrivateAddress(WebhookUrlRefused):
    code = "webhook_url_private_address"
    default_message = _("The webhook URL points to a private, local or reserved network address.")


class WebhookUrlUnresolvable(WebhookUrlRefused):
    code = "webhook_url_unresolvable"
    default_message = _("The webhook URL's host name does not resolve.")


class WebhookEndpointLimit(Conflict):
    code = "webhook_endpoint_limit"
    default_message = _("This client has as many webhook endpoints as allowed. Delete one first.")


class WebhookEndpointNotEnabled(Conflict):
    """Resending to an endpoint that is switched off, disabled or gone."""

    code = "webhook_endpoint_not_enabled"
    default_message = _("The webhook endpoint is switched off or disabled.")
