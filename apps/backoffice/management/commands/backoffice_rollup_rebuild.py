from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from apps.backoffice.rollup import rollup_rebuild


class Command(BaseCommand):
    help = (
        "Recompute the back office's hourly message figures of the last DAYS days (default 31) from the messages: "
        "to fill them on a database that had messages before, or to repair them. Hours in which messages still move "
        "(the current one) may lose a count racing the rebuild: run it again later for those."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--days", type=int, default=31)

    def handle(self, *args: Any, days: int, **options: Any) -> None:
        now = timezone.now()
        rows = rollup_rebuild(since=now - timedelta(days=days), until=now + timedelta(hours=1))
        self.stdout.write(f"{rows} rollup rows written for the last {days} days")
