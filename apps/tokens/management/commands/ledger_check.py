"""`manage.py ledger_check`: recompute every balance from the transfers and check every invariant.

Exit status 0 when the ledger is sound, 1 (and a report of each break) otherwise.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.tokens.reconciliation import ledger_check


class Command(BaseCommand):
    help = "Recompute every ledger balance from the transfers and check the ledger's invariants."

    def handle(self, *args: Any, **options: Any) -> None:
        check = ledger_check()
        self.stdout.write(
            f"ledger check: {check.transfers} transfers, {check.accounts} accounts, {check.duration_ms} ms; "
            f"imbalance {check.imbalance}; breaks {check.breaks}"
        )
        for entry in check.report:
            detail = ", ".join(f"{key}={value}" for key, value in entry.items() if key != "check")
            self.stdout.write(f"  BREAK {entry['check']}: {detail}")
        if check.breaks > len(check.report):
            self.stdout.write(f"  … and {check.breaks - len(check.report)} more")
        if check.breaks:
            raise CommandError(f"the ledger has {check.breaks} break(s)", returncode=1)
        self.stdout.write(self.style.SUCCESS("ledger sound"))
