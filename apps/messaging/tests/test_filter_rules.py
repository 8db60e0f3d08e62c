"""Staff edits to the filter rules: validated, audited, and picked up by every process without a query per message."""

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError

from apps.audit.models import AuditLog
from apps.messaging import services
from apps.messaging.choices import DomainRuleKind, FilterAction, TermCategory, TermLanguage
from apps.messaging.filtering import check_content
from apps.messaging.filtering.runtime import VERSION_KEY, CompiledFilterCache
from apps.messaging.models import DomainRule, FilterTerm

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _rules_alone(settings):
    # These tests are about the rules; the statistical model, which holds some of the same messages on its own,
    # has its tests in test_filter_model.py.
    settings.CONTENT_FILTER_CLASSIFIER = False


BODY = "Special durian deal for you today"


def new_term(**fields):
    defaults = {"term": "durian deal", "language": TermLanguage.ENGLISH, "category": TermCategory.SCAM, "weight": 120}
    return FilterTerm(**{**defaults, **fields})


def test_compiled_filter_answers_without_database_queries(django_assert_num_queries):
    check_content(BODY)  # compiles once
    with django_assert_num_queries(0):
        for _ in range(50):
            check_content(BODY)


def test_new_term_takes_effect_in_the_editing_process(staff, django_capture_on_commit_callbacks):
    assert check_content(BODY).action == FilterAction.ALLOW
    with django_capture_on_commit_callbacks(execute=True):
        services.filter_rule_save(rule=new_term(), actor=staff)
    decision = check_content(BODY)
    assert decision.action == FilterAction.REJECT
    assert decision.reasons[0].matches == ("durian deal",)


def test_other_processes_pick_up_the_change_after_the_reload_interval(
    staff, settings, django_capture_on_commit_callbacks
):
    other_process = CompiledFilterCache()
    settings.CONTENT_FILTER_RELOAD_SECONDS = 3600
    stale = other_process.get()
    with django_capture_on_commit_callbacks(execute=True):
        services.filter_rule_save(rule=new_term(), actor=staff)
    assert other_process.get() is stale  # still inside its reload interval: no look at the cache
    settings.CONTENT_FILTER_RELOAD_SECONDS = 0
    fresh = other_process.get()
    assert fresh is not stale
    assert fresh.check(BODY, hold_score=50, reject_score=100).action == FilterAction.REJECT


def test_unchanged_version_keeps_the_compiled_filter(settings):
    settings.CONTENT_FILTER_RELOAD_SECONDS = 0
    process = CompiledFilterCache()
    assert process.get() is process.get()


def test_lost_version_key_recompiles_from_the_database(settings):
    settings.CONTENT_FILTER_RELOAD_SECONDS = 0
    process = CompiledFilterCache()
    first = process.get()
    cache.delete(VERSION_KEY)
    assert process.get() is not first
    assert cache.get(VERSION_KEY)


def test_no_change_is_published_before_commit(staff, django_capture_on_commit_callbacks):
    version = cache.get(VERSION_KEY)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.filter_rule_save(rule=new_term(), actor=staff)
    assert cache.get(VERSION_KEY) == version
    assert len(callbacks) == 1


def test_deactivated_and_deleted_terms_stop_matching(staff, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        term = services.filter_rule_save(rule=new_term(), actor=staff)
        term_id = str(term.pk)
        services.filter_rules_set_active(rules=FilterTerm.objects.filter(pk=term.pk), active=False, actor=staff)
    assert check_content(BODY).action == FilterAction.ALLOW
    with django_capture_on_commit_callbacks(execute=True):
        services.filter_rules_set_active(rules=FilterTerm.objects.filter(pk=term.pk), active=True, actor=staff)
    assert check_content(BODY).action == FilterAction.REJECT
    with django_capture_on_commit_callbacks(execute=True):
        services.filter_rule_delete(rule=term, actor=staff)
    assert check_content(BODY).action == FilterAction.ALLOW
    actions = list(
        AuditLog.objects.filter(target_type="messaging.filterterm", target_id=term_id)
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == [
        "filter_term.created",
        "filter_term.deactivated",
        "filter_term.activated",
        "filter_term.deleted",
    ]


def test_khmer_term_is_found_inside_unspaced_text(staff, django_capture_on_commit_callbacks):
    body = "សូមទិញទុរេនពិសេសនៅហាងយើង"  # "please buy special durian at our shop"
    assert check_content(body).codes == []
    with django_capture_on_commit_callbacks(execute=True):
        services.filter_rule_save(rule=new_term(term="ទុរេនពិសេស", language=TermLanguage.KHMER, weight=40), actor=staff)
    assert check_content(body).reasons[0].matches == ("ទុរេនពិសេស",)


def test_terms_are_stored_normalised_and_audited(staff):
    term = services.filter_rule_save(rule=new_term(term="  Durian   DEAL "), actor=staff)
    assert term.term == "durian deal"
    entry = AuditLog.objects.get(action="filter_term.created")
    assert entry.actor == staff
    assert entry.after["term"] == "durian deal"


def test_update_records_before_and_after(staff):
    term = services.filter_rule_save(rule=new_term(), actor=staff)
    term.weight = 30
    services.filter_rule_save(rule=term, actor=staff)
    entry = AuditLog.objects.get(action="filter_term.updated")
    assert (entry.before["weight"], entry.after["weight"]) == (120, 30)


@pytest.mark.parametrize(
    ("fields", "error_field"),
    [
        ({"term": "   "}, "term"),
        ({"term": "ល្បែង", "language": TermLanguage.ENGLISH}, "language"),
        ({"term": "casino night", "language": TermLanguage.KHMER}, "language"),
        ({"term": "casino"}, "__all__"),  # seeded already
        ({"weight": 5000}, "weight"),
    ],
)
def test_invalid_terms_are_refused(staff, fields, error_field):
    with pytest.raises(ValidationError) as caught:
        services.filter_rule_save(rule=new_term(**fields), actor=staff)
    assert error_field in caught.value.message_dict


def test_blocked_domain_rule(staff, django_capture_on_commit_callbacks):
    body = "Get the app at https://get.win888.vip/download"
    assert check_content(body).codes == []
    rule = DomainRule(domain="HTTPS://www.Win888.VIP/promo", kind=DomainRuleKind.BLOCKED, weight=100)
    with django_capture_on_commit_callbacks(execute=True):
        services.filter_rule_save(rule=rule, actor=staff)
    assert rule.domain == "win888.vip"
    decision = check_content(body)
    assert (decision.action, decision.codes) == (FilterAction.REJECT, ["blocked_domain"])


def test_brand_is_only_for_official_domains(staff):
    with pytest.raises(ValidationError):
        services.filter_rule_save(
            rule=DomainRule(domain="x.example", kind=DomainRuleKind.BLOCKED, brand="aba"), actor=staff
        )
