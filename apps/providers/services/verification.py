"""Proving a SIM belongs to the provider: a one-time code sent to the SIM's number, typed back into the app.

It reuses identity's OTP machinery (same hashing, expiry, tries, cooldown and rate limits) with its own purpose, so
a login code can never verify a SIM or the other way round. Sent through the PeerPower network, the code is never
given to a provider who holds that number (dispatch excludes them), so nobody can verify a SIM by reading the job.
"""

from typing import Any

from apps.accounts.choices import Language, OtpPurpose
from apps.accounts.services import OtpIssued, otp_request, otp_verify
from apps.providers.errors import SimAlreadyVerified, SimNotFound
from apps.providers.models import Sim
from apps.providers.services.registry import sim_mark_verified


def sim_verification_request(*, sim: Sim, language: str = Language.KHMER) -> OtpIssued:
    """Send a verification code to the SIM's own number."""
    if not sim.active:
        raise SimNotFound()
    if sim.verified_at is not None:
        raise SimAlreadyVerified()
    return otp_request(phone=sim.msisdn, purpose=OtpPurpose.SIM_VERIFICATION, language=language)


def sim_verify(*, sim: Sim, code: str, actor: Any) -> Sim:
    """Check the code sent to the SIM and mark the SIM verified (otp_verify counts wrong tries and locks)."""
    if sim.verified_at is not None:
        raise SimAlreadyVerified()
    otp_verify(phone=sim.msisdn, code=code, purpose=OtpPurpose.SIM_VERIFICATION)
    return sim_mark_verified(sim=sim, actor=actor)
