"""Admin search by phone number where numbers are encrypted: they cannot be matched by a part, only found whole,
through their keyed hash. Staff type a number as people say it ("012 345 678"); it is normalised to E.164 first."""

from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest

from apps.accounts.phone import normalize_phone
from apps.core.errors import ValidationFailed


def search_term_as_phone(search_term: str) -> str | None:
    """The E.164 form of a search term that is a phone number, else None."""
    try:
        return normalize_phone(search_term.strip(), require_mobile=False, allowed_regions=[]).e164
    except ValidationFailed:
        return None


class PhoneSearchMixin:
    """Adds to the admin's search the rows whose `phone_search_fields` (encrypted numbers with a blind index, e.g.
    `provider__user__phone`) equal the typed number. Keep those fields out of `search_fields`: a partial match
    (`icontains`) cannot work on an encrypted column."""

    phone_search_fields: tuple[str, ...] = ()

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, Any]:
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)  # type: ignore[misc]
        e164 = search_term_as_phone(search_term) if search_term else None
        if e164 is None or not self.phone_search_fields:
            return found, may_have_duplicates
        by_phone = Q()
        for name in self.phone_search_fields:
            by_phone |= Q(**{name: e164})
        matches = queryset.filter(by_phone)
        if not self.search_fields:  # type: ignore[attr-defined]
            return matches, True
        return found | matches, True
