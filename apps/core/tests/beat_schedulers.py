"""Beat schedulers for tests of `celery beat` itself (loaded by dotted path in a beat subprocess)."""

import os
import signal

from django.db.models.signals import pre_save
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler


class StoppedWhileBuilt(DatabaseScheduler):
    """The stop signal arrives while beat's scheduler is still being built: inside the transaction that saves its
    first entry. (A supervisor or control-group kill can send it at any moment of a slow start.)"""

    def update_from_dict(self, mapping: dict) -> None:
        def stop(**kwargs: object) -> None:
            pre_save.disconnect(stop, sender=PeriodicTask)
            os.kill(os.getpid(), signal.SIGTERM)

        pre_save.connect(stop, sender=PeriodicTask, weak=False)
        super().update_from_dict(mapping)
