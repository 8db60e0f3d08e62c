"""The application as a benchmark's granian or uWSGI worker serves it: `peerpower.wsgi` with the start-up objects
frozen once it is loaded, as gunicorn's `post_worker_init` does (`apps.core.memory`), so the servers compare alike."""

from apps.core.memory import freeze_startup_objects
from peerpower.wsgi import application

freeze_startup_objects()

__all__ = ["application"]
