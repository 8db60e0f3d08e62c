"""Development: default prices and a demo client with PPT, so sending works when the product is tried. Refuses to
run outside development; safe to run again (it only adds what is missing)."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from apps.accounts.management.commands.ensure_demo_superuser import DEMO_PHONE
from apps.accounts.models import ClientOrganization, User
from apps.accounts.services import client_create, client_go_live
from apps.incentives.choices import Route
from apps.incentives.models import Price
from apps.providers.choices import MatchPriority
from apps.tokens.choices import PlatformAccount, Reason
from apps.tokens.services import TransferSpec, account_open, platform_account, transfers_create

# Per segment, in 10⁻⁶ PPT (0.01 PPT = 10_000).
DEFAULT_PRICES = {
    (MatchPriority.HIGH, Route.ON_NET): 15_000,
    (MatchPriority.HIGH, Route.CROSS_CARRIER): 20_000,
    (MatchPriority.NORMAL, Route.ON_NET): 10_000,
    (MatchPriority.NORMAL, Route.CROSS_CARRIER): 15_000,
    (MatchPriority.LOW, Route.ON_NET): 5_000,
    (MatchPriority.LOW, Route.CROSS_CARRIER): 7_500,
}
DEMO_CLIENT = "Demo client"
DEMO_CREDIT = 100_000_000  # 100 PPT


class Command(BaseCommand):
    help = "Seed default prices and a demo client with 100 PPT (development settings only)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not getattr(settings, "DEMO_DATA_ALLOWED", False):
            raise CommandError("Demo billing data exists only in development (DEMO_DATA_ALLOWED is off).")
        with transaction.atomic():
            if not Price.objects.exists():
                Price.objects.bulk_create(
                    Price(priority=priority, route=route, amount=amount, note="development default")
                    for (priority, route), amount in DEFAULT_PRICES.items()
                )
                self.stdout.write("Seeded default prices (Incentives › Prices in the admin).")
            owner = User.objects.filter(phone=DEMO_PHONE).first()
            if owner is None:
                raise CommandError("Run ensure_demo_superuser first.")
            organization = ClientOrganization.objects.filter(name=DEMO_CLIENT, members=owner).first()
            if organization is None:
                organization = client_create(user=owner, name=DEMO_CLIENT)
            # The demo client sends to any number at once: approved by the seeding, not by an application.
            client_go_live(organization=organization, actor=None, reason="development demo client")
            account = account_open(organization=organization)
            (result,) = transfers_create(
                [
                    TransferSpec(
                        id=f"demo:credit:{organization.pk}",
                        amount=DEMO_CREDIT,
                        debit_account_id=platform_account(PlatformAccount.ISSUANCE).pk,
                        credit_account_id=account.pk,
                        reason=Reason.TOP_UP,
                        memo="development demo credit",
                    )
                ]
            )
        if result == "ok":
            self.stdout.write(f"Credited 100 PPT to the demo client (organisation {organization.pk}).")
        self.stdout.write(
            f"Demo client: organisation {organization.pk}, owned by the demo superuser; create an API key for it "
            "with POST /api/clients/{id}/api-keys."
        )
