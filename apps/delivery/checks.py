"""System checks: the push backend exists and is configured, so a typo stops start-up (manage.py commands, the
container entrypoint) instead of the first push."""

from typing import Any

from django.core import checks

from apps.delivery.push.backends import PushBackend, backend_class


@checks.register(checks.Tags.compatibility)
def check_push_backend(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from django.conf import settings

    name = settings.PUSH_BACKEND
    try:
        backend = backend_class(name)
    except ImportError as error:
        return [checks.Error(f"PUSH_BACKEND {name!r} cannot be imported: {error}", id="delivery.E001")]
    if not (isinstance(backend, type) and issubclass(backend, PushBackend)):
        return [checks.Error(f"PUSH_BACKEND {name!r} is not a PushBackend subclass", id="delivery.E001")]
    return backend.check_configuration()
