"""The providers app's domain errors: each has a stable code the mobile app can branch on."""

from django.utils.translation import gettext_lazy as _

from apps.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed


class ProviderAlreadyRegistered(Conflict):
    code = "provider_already_registered"
    default_message = _("You are already registered as a provider.")


class ProviderNotRegistered(NotFound):
    code = "provider_not_registered"
    default_message = _("You are not registered as a provider.")


class ProviderNotActive(PermissionDenied):
    code = "provider_not_active"
    default_message = _("Your provider account is suspended or banned.")


class ProviderStatusConflict(Conflict):
    code = "provider_status_conflict"
    default_message = _("The provider cannot move to that status from its current one.")


class SimDuplicate(ValidationFailed):
    code = "sim_duplicate"
    default_message = _("The same SIM number or slot is given twice.")


class SimAlreadyRegistered(Conflict):
    code = "sim_already_registered"
    default_message = _("This SIM number is already registered.")


class SimSlotTaken(Conflict):
    code = "sim_slot_taken"
    default_message = _("Another SIM is registered in this slot; remove it first.")


class SimLimitReached(Conflict):
    code = "sim_limit_reached"
    default_message = _("You have registered as many SIMs as a provider may.")


class SimNotFound(NotFound):
    code = "sim_not_found"
    default_message = _("No such SIM among yours.")


class CapAboveMaximum(ValidationFailed):
    code = "cap_above_maximum"
    default_message = _("A sending limit is above the highest allowed.")


class DeviceNotRegistered(Conflict):
    code = "device_not_registered"
    default_message = _("Register this phone's push token first.")


class DeviceRegisteredToAnotherProvider(Conflict):
    code = "device_registered_to_another_provider"
    default_message = _("This phone is registered to another provider.")


class SimAlreadyVerified(Conflict):
    code = "sim_already_verified"
    default_message = _("This SIM's ownership is already verified.")


class SealKeyInvalid(ValidationFailed):
    code = "seal_key_invalid"
    default_message = _("The seal key is not the base64 of an X25519 public key (32 bytes).")
