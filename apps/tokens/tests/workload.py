"""A seeded random workload for the ledger: top-ups, holds posted in full or part or voided or left to time out,
rewards, payouts, linked chains, and ids repeated with the same and with different fields — the traffic every later
money flow will send, in batches. Used by the invariant tests (8 writers on PostgreSQL, one on SQLite)."""

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from apps.tokens.choices import PlatformAccount, Reason
from apps.tokens.services import TransferSpec, account_open, platform_account


@dataclass
class Book:
    clients: list[int]
    providers: list[int]
    issuance: int
    revenue: int
    rewards: int
    payouts: int
    ordered: list[int] = field(default_factory=list)


def book_open(clients: list, providers: list) -> Book:
    book = Book(
        clients=[account_open(organization=organization).pk for organization in clients],
        providers=[account_open(provider=provider).pk for provider in providers],
        issuance=platform_account(PlatformAccount.ISSUANCE).pk,
        revenue=platform_account(PlatformAccount.REVENUE).pk,
        rewards=platform_account(PlatformAccount.REWARDS).pk,
        payouts=platform_account(PlatformAccount.PAYOUTS_IN_FLIGHT).pk,
    )
    book.ordered = [*book.clients, *book.providers, book.issuance, book.revenue, book.rewards, book.payouts]
    return book


def batches(book: Book, *, seed: int, count: int, size: int, start: datetime) -> list[tuple[datetime, list]]:
    """`count` batches of about `size` transfers, each with the time it is booked at (one second apart).

    Ids come from a small shared space (`hold:<n>`, `top-up:<n>`…), so writers with other seeds repeat each
    other's ids, sometimes with the same fields and sometimes not.
    """
    rng = random.Random(seed)
    out = []
    for number in range(count):
        specs: list[TransferSpec] = []
        while len(specs) < size:
            specs.extend(_operation(book, rng))
        out.append((start + timedelta(seconds=number), specs))
    return out


def _operation(book: Book, rng: random.Random) -> list[TransferSpec]:
    client, provider = rng.choice(book.clients), rng.choice(book.providers)
    n = rng.randrange(400)
    choice = rng.random()
    if choice < 0.15:
        amount = rng.choice([10_000, 50_000]) if rng.random() < 0.8 else rng.randrange(1, 50_000)
        return [
            TransferSpec(
                id=f"top-up:{n}",
                amount=amount,
                debit_account_id=book.issuance,
                credit_account_id=client,
                reason=Reason.TOP_UP,
            )
        ]
    if choice < 0.40:
        return [
            TransferSpec(
                id=f"hold:{n}", amount=rng.randrange(100, 3_000), debit_account_id=client,
                credit_account_id=book.revenue, reason=Reason.CHARGE, pending=True,
                timeout_seconds=rng.choice([0, 2, 5, 30]),
            )
        ]  # fmt: skip
    if choice < 0.55:
        amount = None if rng.random() < 0.5 else rng.randrange(1, 3_000)
        return [TransferSpec(id=f"hold:{n}:post", post_pending_id=f"hold:{n}", amount=amount, reason=Reason.CHARGE)]
    if choice < 0.62:
        return [TransferSpec(id=f"hold:{n}:void", void_pending_id=f"hold:{n}", reason=Reason.CHARGE)]
    if choice < 0.75:
        # A reward, pending through the verification window, then posted.
        reward = TransferSpec(
            id=f"reward:{n}", amount=rng.randrange(50, 500), debit_account_id=book.rewards, credit_account_id=provider,
            reason=Reason.REWARD, pending=True, timeout_seconds=rng.choice([0, 3]),
        )  # fmt: skip
        post = TransferSpec(id=f"reward:{n}:post", post_pending_id=f"reward:{n}", reason=Reason.REWARD)
        return [reward, post] if rng.random() < 0.5 else [reward]
    if choice < 0.85:
        return [
            TransferSpec(
                id=f"payout:{n}", amount=rng.randrange(100, 5_000), debit_account_id=provider,
                credit_account_id=book.payouts, reason=Reason.PAYOUT,
            )
        ]  # fmt: skip
    # A linked chain: charge the client and reward the provider, all or none (the charge may exceed the balance).
    return [
        TransferSpec(
            id=f"chain:{n}:charge", amount=rng.randrange(100, 20_000), debit_account_id=client,
            credit_account_id=book.revenue, reason=Reason.CHARGE, linked=True, message_id=n,
        ),
        TransferSpec(
            id=f"chain:{n}:reward", amount=rng.randrange(10, 100), debit_account_id=book.rewards,
            credit_account_id=provider, reason=Reason.REWARD, message_id=n,
        ),
    ]  # fmt: skip
