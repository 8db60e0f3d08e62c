"""Rebuild the content filter's statistical model (`apps/messaging/filtering/data/spam_model.json`) from the corpus.

    .venv/bin/python manage.py build_spam_model [--check]

Run it after the corpus changes and commit the file; `--check` only says whether the committed file is what the
corpus gives (exit status 1 if not). Needs the development requirements (scikit-learn). The features are read by
the filter a fresh database has (the seeded terms), as `benchmarks/content_filter_corpus.py` scores it.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.messaging.corpus.training import build_model
from apps.messaging.filtering.model import MODEL_FILE
from apps.messaging.filtering.starter import starter_filter


class Command(BaseCommand):
    help = "Rebuild the content filter's statistical model from the labelled corpus."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true", help="only compare with the committed file")

    def handle(self, *args: Any, check: bool = False, **options: Any) -> None:
        model = build_model(starter_filter())
        text = model.as_json()
        if check:
            current = MODEL_FILE.read_text(encoding="utf-8") if MODEL_FILE.exists() else ""
            if current != text:
                raise CommandError(f"{MODEL_FILE} is not what the corpus gives: run build_spam_model.")
            self.stdout.write("The model file matches the corpus.")
            return
        MODEL_FILE.write_text(text, encoding="utf-8")
        self.stdout.write(
            f"Wrote {MODEL_FILE.name}: {len(model.weights)} word and {len(model.char_weights)} character features, "
            f"threshold {model.threshold}, gate {model.gate}, veto {model.veto}."
        )
