"""The starter rules as the data migrations seed them, as filter specs (no database).

The benchmarks and the corpus evaluation compile the filter a fresh database has from these; the send path reads
the admin-edited tables instead (`runtime.py`).
"""

import importlib

from apps.messaging.choices import DomainRuleKind
from apps.messaging.filtering.engine import ContentFilter, DomainSpec, TermSpec
from apps.messaging.filtering.model import SpamModel

_SEED_MIGRATIONS = ("0002_seed_content_filter", "0009_filter_terms_from_corpus")
_REWEIGHT_MIGRATIONS = ("0015_lighter_draw_result_terms", "0016_lighter_slot_term")
_DOMAIN_MIGRATIONS = ("0019_more_official_domains",)


def starter_terms() -> list[TermSpec]:
    first, second = (importlib.import_module(f"apps.messaging.migrations.{name}") for name in _SEED_MIGRATIONS)
    terms = {(term, language): (category, weight) for term, language, category, weight, _ in first.STARTER_TERMS}
    for term, language, category, weight, _ in second.ADDED_TERMS:
        terms.setdefault((term, language), (category, weight))  # like the migration's get_or_create
    for name in _REWEIGHT_MIGRATIONS:
        for term, language, seeded, new in importlib.import_module(f"apps.messaging.migrations.{name}").LIGHTER:
            category, weight = terms[(term, language)]
            if weight == seeded:  # like the migration: only a weight still as seeded
                terms[(term, language)] = (category, new)
    return [TermSpec(term, language, category, weight) for (term, language), (category, weight) in terms.items()]


def starter_domains() -> list[DomainSpec]:
    seed = importlib.import_module(f"apps.messaging.migrations.{_SEED_MIGRATIONS[0]}")
    domains = [DomainSpec(domain, kind, weight, brand) for domain, kind, weight, brand, _ in seed.STARTER_DOMAINS]
    seeded = {spec.domain for spec in domains}
    for name in _DOMAIN_MIGRATIONS:
        for domain, brand, _ in importlib.import_module(f"apps.messaging.migrations.{name}").ADDED_DOMAINS:
            if domain not in seeded:  # like the migration's get_or_create
                domains.append(DomainSpec(domain, DomainRuleKind.OFFICIAL, 0, brand))
    return domains


def starter_filter(model: SpamModel | None = None) -> ContentFilter:
    """The rules alone unless a `model` is given (the model is built from this filter's reading of the corpus)."""
    return ContentFilter(terms=starter_terms(), domains=starter_domains(), model=model)
