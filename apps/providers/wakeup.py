"""The wake-up hook: how providers the sweep has just marked offline are asked to check in.

`settings.PROVIDER_WAKE_UP_HOOK` names a function `wake_up(provider_ids: list[int]) -> None`. The push channel
(a later issue) will provide one that sends each provider's devices a data message over FCM, which makes the app
send a heartbeat; a heartbeat brings the provider back to the availability they chose. Until then the default
below is used: it sends nothing and says so in the log.
"""

import logging

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


def wake_up_nobody(provider_ids: list[int]) -> None:
    """The default hook: no push channel is configured, so no provider is woken."""
    logger.debug("no wake-up hook configured; %d provider(s) not woken", len(provider_ids))


def wake_up(provider_ids: list[int]) -> None:
    """Call the configured hook. Called after commit; a failing push channel never undoes the sweep."""
    if not provider_ids:
        return
    hook = import_string(settings.PROVIDER_WAKE_UP_HOOK)
    try:
        hook(list(provider_ids))
    except Exception:  # an outside channel's failure is logged; the sweep's work stands
        logger.exception("wake-up hook %s failed for %d provider(s)", settings.PROVIDER_WAKE_UP_HOOK, len(provider_ids))
