"""The starter rules the data migration seeds are valid and already in the form the filter compares."""

import pytest

from apps.messaging.choices import DomainRuleKind, TermLanguage
from apps.messaging.models import DomainRule, FilterTerm

pytestmark = pytest.mark.django_db


def test_starter_terms_cover_both_languages_and_every_category():
    terms = FilterTerm.objects.filter(active=True)
    assert terms.filter(language=TermLanguage.KHMER).count() >= 25
    assert terms.filter(language=TermLanguage.ENGLISH).count() >= 50
    assert set(terms.values_list("category", flat=True)) == {
        "scam",
        "gambling",
        "loan_shark",
        "phishing",
        "adult",
        "urgency",
        "credential",
    }


def test_every_seeded_rule_passes_validation_unchanged():
    for rule in [*FilterTerm.objects.all(), *DomainRule.objects.all()]:
        stored = rule.term if isinstance(rule, FilterTerm) else rule.domain
        rule.full_clean()
        assert (rule.term if isinstance(rule, FilterTerm) else rule.domain) == stored


def test_common_shorteners_are_seeded():
    shorteners = set(DomainRule.objects.filter(kind=DomainRuleKind.SHORTENER).values_list("domain", flat=True))
    assert {"bit.ly", "tinyurl.com", "cutt.ly", "goo.gl"} <= shorteners
