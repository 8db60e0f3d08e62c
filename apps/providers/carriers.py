"""Which Cambodian carrier a SIM is on: from its number (phonenumbers' range data) and from the MCC-MNC the app
reads off the SIM. Numbers can be ported and range data ages, so when both are known and disagree the SIM's own
MCC-MNC wins and the SIM is flagged for staff to look at."""

from django.utils.translation import gettext_lazy as _

from apps.core.errors import ValidationFailed
from apps.providers.choices import Carrier

CAMBODIA_MCC = "456"

# Operator codes in use in Cambodia (ITU-T E.212 list). Brands that merged keep their old codes on older SIMs.
MCC_MNC_CARRIERS = {
    "45601": Carrier.CELLCARD,
    "45602": Carrier.SMART,
    "45603": Carrier.QB,
    "45604": Carrier.QB,
    "45605": Carrier.SMART,
    "45606": Carrier.SMART,
    "45608": Carrier.METFONE,
    "45609": Carrier.METFONE,
    "45611": Carrier.SEATEL,
    "45618": Carrier.CELLCARD,
}

# The names phonenumbers' carrier data gives Cambodian number ranges.
PHONENUMBERS_CARRIERS = {
    "smart": Carrier.SMART,
    "metfone": Carrier.METFONE,
    "cellcard": Carrier.CELLCARD,
    "seatel": Carrier.SEATEL,
    "qbmore/cadcomms": Carrier.QB,
}


class MccMncNotAllowed(ValidationFailed):
    code = "mcc_mnc_not_allowed"
    default_message = _("This SIM is not from a Cambodian carrier we can send through.")


def carrier_from_phonenumbers(name: str) -> Carrier:
    return PHONENUMBERS_CARRIERS.get((name or "").strip().lower(), Carrier.UNKNOWN)


def carrier_from_mcc_mnc(mcc_mnc: str) -> Carrier:
    """The carrier of a Cambodian MCC-MNC; raises `mcc_mnc_not_allowed` for a foreign or unknown code."""
    code = "".join(ch for ch in mcc_mnc if ch.isdigit())
    carrier = MCC_MNC_CARRIERS.get(code)
    if carrier is None:
        raise MccMncNotAllowed(details={"mcc_mnc": mcc_mnc})
    return carrier
