"""The ledger's part of a person's data export and erasure (see apps.accounts.privacy).

Export: the transfers of the provider's ledger accounts (its earnings and redemptions). Erasure changes nothing
here: the accounts and transfers are accounting records, kept under the provider's opaque id. It waits while a
hold is open on one of the accounts (pending debits or credits): that money has not settled yet.
"""

from typing import Any

from django.db.models import Q

from apps.accounts.privacy import PrivacyPart, privacy_part
from apps.tokens.models import Account, Transfer


def _account_ids(user: Any) -> list[int]:
    return list(Account.objects.filter(provider__user=user).values_list("id", flat=True))


def _export(user: Any) -> dict[str, Any]:
    ids = _account_ids(user)
    accounts = Account.objects.filter(id__in=ids).values(
        "id", "ledger__code", "debits_pending", "debits_posted", "credits_pending", "credits_posted"
    )
    transfers = (
        Transfer.objects.filter(Q(debit_account_id__in=ids) | Q(credit_account_id__in=ids))
        .order_by("created_at")
        .values("id", "debit_account_id", "credit_account_id", "amount", "kind", "status", "reason", "created_at")
    )
    return {"ledger_accounts.json": list(accounts), "earnings.json": list(transfers.iterator(chunk_size=2000))}


def _blockers(user: Any) -> list[str]:
    held = Account.objects.filter(provider__user=user).filter(Q(debits_pending__gt=0) | Q(credits_pending__gt=0))
    return ["ledger_hold_open"] if held.exists() else []


def register() -> None:
    privacy_part(PrivacyPart(name="tokens", export=_export, blockers=_blockers))
