from django.apps import AppConfig


class MessagingConfig(AppConfig):
    """Client message API, validation, content filter, blacklists, queue, dispatch and job leases."""

    name = "apps.messaging"
    label = "messaging"
