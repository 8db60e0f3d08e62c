"""Create the development demo superuser once and say how to log in. Refuses to run outside development."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import User

DEMO_PHONE = "+85512000000"
DEMO_PASSWORD = "peerpower-demo"  # noqa: S105 - development-only demo account, printed on purpose


class Command(BaseCommand):
    help = "Create a demo superuser for local development (development settings only)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not getattr(settings, "DEMO_DATA_ALLOWED", False):
            raise CommandError("The demo superuser exists only in development (DEMO_DATA_ALLOWED is off).")
        if not User.objects.filter(phone=DEMO_PHONE).exists():
            User.objects.create_superuser(DEMO_PHONE, DEMO_PASSWORD, display_name="Demo operator")
            self.stdout.write("Created the demo superuser.")
        self.stdout.write(f"Admin login: phone {DEMO_PHONE} (or 012 000 000), password {DEMO_PASSWORD}")
