"""Top-level URLs: health, metrics, admin, the API and its documentation."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from apps.core import views as core_views
from apps.core.schema import english_unless_asked
from apps.delivery.api.urls import phone_urlpatterns
from apps.messaging.views import verify_page

admin.site.site_header = _("PeerPower operations")
admin.site.site_title = _("PeerPower operations")
admin.site.index_title = _("Back office")

api_patterns: list = [
    # The client send path first: Django tries patterns in order, and the ~40 before it cost every send about as much
    # as the rest of routing (none of them matches a `messages/…` path, so the order changes no route).
    path("", include("apps.messaging.api.urls")),
    # Then the phone's batches of acknowledgements and reports (apps.delivery.api.urls): the same reasoning, for the
    # two requests a message costs a phone.
    *phone_urlpatterns,
    path("schema/", english_unless_asked(SpectacularAPIView.as_view()), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("", include("apps.delivery.webhooks.api.urls")),
    path("", include("apps.accounts.api.urls")),
    path("", include("apps.providers.urls")),
    path("", include("apps.delivery.api.urls")),
    path("", include("apps.tokens.api.urls")),
    path("", include("apps.payments.api.urls")),
    path("", include("apps.incentives.api.urls")),
    path("", include("apps.incentives.payouts.urls")),
    path("", include("apps.backoffice.api")),
]
# Apps add their API routes to api_patterns above this line; anything else under /api/ is a JSON 404.
api_fallback = [re_path(r"^.*$", core_views.not_found, name="api-not-found")]

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("health", core_views.health, name="health"),
    path("ready", core_views.ready, name="ready"),
    path("metrics", core_views.metrics, name="metrics"),
    # The staff's language switcher (Khmer / English) posts here: Django's `set_language`.
    path("i18n/", include("django.conf.urls.i18n")),
    # The page the SMS verification suffix links to (MESSAGE_VERIFICATION_SUFFIX): the form, and one code's check.
    path("v/", verify_page, name="verify-form"),
    path("v/<path:code>", verify_page, name="verify-page"),  # any text, even with a slash, gets the same page
    # The back office's own admin pages (dashboard refresh, analytics), before the admin site's catch-all.
    path(f"{settings.ADMIN_URL}backoffice/", include("apps.backoffice.urls")),
    path(settings.ADMIN_URL, admin.site.urls),
    path("api/", include(api_patterns)),
    path("api/", include(api_fallback)),
]

handler400 = "apps.core.views.bad_request"
handler404 = "apps.core.views.not_found"
handler500 = "apps.core.views.server_error"
