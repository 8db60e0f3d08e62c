"""What a user says about themselves: profile, and the DID key and EVM wallet bound to them (each binding proven
by a signature over a challenge we issued, used once)."""

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from eth_utils import is_address, to_checksum_address

from apps.accounts.choices import ChallengeKind
from apps.accounts.did import did_public_key, verify_did_signature
from apps.accounts.errors import (
    ChallengeInvalid,
    DidAlreadyBound,
    DidTaken,
    WalletChainMismatch,
    WalletDomainMismatch,
    WalletMessageExpired,
    WalletMessageMalformed,
    WalletMessageReused,
    WalletNonceInvalid,
    WalletNotBound,
    WalletSignatureInvalid,
    WalletTaken,
)
from apps.accounts.models import IdentityChallenge, User
from apps.accounts.siwe import build_message, parse_message, recover_signer
from apps.audit.services import audit_record


def profile_update(*, user: User, actor: User, **changes: str) -> User:
    """Change what a user may change about themselves: display name and preferred language."""
    allowed = {"display_name", "preferred_language"}
    changes = {name: value for name, value in changes.items() if name in allowed}
    if not changes:
        return user
    with transaction.atomic():
        before = {name: getattr(user, name) for name in changes}
        for name, value in changes.items():
            setattr(user, name, value)
        user.save(update_fields=list(changes))
        audit_record(actor=actor, action="user.profile_updated", target=user, before=before, after=changes)
    return user


def _challenge_create(
    *, user: User, kind: str, message_for_nonce: Callable[[str, datetime, datetime], str]
) -> IdentityChallenge:
    nonce = secrets.token_hex(16)
    now = timezone.now()
    expires_at = now + timedelta(seconds=settings.IDENTITY_CHALLENGE_TTL_SECONDS)
    return IdentityChallenge.objects.create(
        user=user,
        kind=kind,
        nonce=nonce,
        message=message_for_nonce(nonce, now, expires_at),
        created_at=now,
        expires_at=expires_at,
    )


def _challenge_use(challenge: IdentityChallenge) -> bool:
    """Mark a challenge used; False if someone else used it first (a conditional update claims it once)."""
    return IdentityChallenge.objects.filter(pk=challenge.pk, used_at__isnull=True).update(used_at=timezone.now()) == 1


def did_challenge_create(*, user: User) -> IdentityChallenge:
    """A nonce for the phone to sign with its DID key (Ed25519 over the exact `message`)."""
    return _challenge_create(
        user=user,
        kind=ChallengeKind.DID,
        message_for_nonce=lambda nonce, _now, _expires: f"PeerPower DID binding\nuser: {user.pk}\nnonce: {nonce}",
    )


def did_bind(*, user: User, did: str, signature: str) -> User:
    """Bind a did:key to the user after checking its key signed the user's latest DID challenge."""
    did_public_key(did)  # malformed DIDs are refused before anything else
    if user.did:
        raise DidAlreadyBound()
    challenge = (
        IdentityChallenge.objects.filter(
            user=user, kind=ChallengeKind.DID, used_at__isnull=True, expires_at__gt=timezone.now()
        )
        .order_by("-created_at")
        .first()
    )
    if challenge is None:
        raise ChallengeInvalid()
    verify_did_signature(did=did, message=challenge.message, signature=signature)
    if User.objects.filter(did=did).exclude(pk=user.pk).exists():
        raise DidTaken()
    try:
        with transaction.atomic():
            if not _challenge_use(challenge):
                raise ChallengeInvalid()
            user.did = did
            user.save(update_fields=["did"])
            audit_record(actor=user, action="user.did_bound", target=user, after={"did": did})
    except IntegrityError:
        raise DidTaken() from None
    return user


def wallet_challenge_create(*, user: User, address: str) -> IdentityChallenge:
    """A Sign-In with Ethereum message for `address` to sign (EIP-4361), with a fresh nonce."""
    if not is_address(address or ""):
        raise WalletMessageMalformed(details={"address": address})
    checksummed = to_checksum_address(address)
    return _challenge_create(
        user=user,
        kind=ChallengeKind.WALLET,
        message_for_nonce=lambda nonce, now, expires_at: build_message(
            domain=settings.SIWE_DOMAIN,
            address=checksummed,
            uri=settings.SIWE_URI,
            chain_id=settings.SIWE_CHAIN_ID,
            nonce=nonce,
            issued_at=now,
            expires_at=expires_at,
        ),
    )


def wallet_bind(*, user: User, message: str, signature: str) -> User:
    """Bind the wallet that signed a SIWE message we issued to this user. Each failure has its own code."""
    parsed = parse_message(message)
    if parsed.domain != settings.SIWE_DOMAIN:
        raise WalletDomainMismatch(details={"expected": settings.SIWE_DOMAIN, "got": parsed.domain})
    if parsed.chain_id != settings.SIWE_CHAIN_ID:
        raise WalletChainMismatch(details={"expected": settings.SIWE_CHAIN_ID, "got": parsed.chain_id})
    challenge = IdentityChallenge.objects.filter(user=user, kind=ChallengeKind.WALLET, nonce=parsed.nonce).first()
    if challenge is None:
        raise WalletNonceInvalid()
    if challenge.used_at is not None:
        raise WalletMessageReused()
    now = timezone.now()
    if challenge.expires_at <= now or (parsed.expiration_time is not None and parsed.expiration_time <= now):
        raise WalletMessageExpired()
    if recover_signer(message, signature) != parsed.address:
        raise WalletSignatureInvalid()
    if User.objects.filter(evm_address=parsed.address).exclude(pk=user.pk).exists():
        raise WalletTaken()
    try:
        with transaction.atomic():
            if not _challenge_use(challenge):
                raise WalletMessageReused()
            before = {"evm_address": user.evm_address}
            user.evm_address = parsed.address
            user.save(update_fields=["evm_address"])
            audit_record(
                actor=user,
                action="user.wallet_bound",
                target=user,
                before=before,
                after={"evm_address": parsed.address},
            )
    except IntegrityError:
        raise WalletTaken() from None
    return user


def wallet_unbind(*, user: User) -> User:
    if not user.evm_address:
        raise WalletNotBound()
    with transaction.atomic():
        before = {"evm_address": user.evm_address}
        user.evm_address = None
        user.save(update_fields=["evm_address"])
        audit_record(actor=user, action="user.wallet_unbound", target=user, before=before, after={"evm_address": None})
    return user
