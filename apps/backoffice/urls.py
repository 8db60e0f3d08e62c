"""The back office's pages under the admin's URL (peerpower/urls.py mounts them before the admin site)."""

from django.contrib import admin
from django.urls import path

from apps.backoffice import views

app_name = "backoffice"

urlpatterns = [
    path("dashboard.json", admin.site.admin_view(views.dashboard_json), name="dashboard-json"),
    path("analytics/clients/", admin.site.admin_view(views.clients_page), name="clients"),
    path("analytics/carriers/", admin.site.admin_view(views.carriers_page), name="carriers"),
    path("analytics/providers/", admin.site.admin_view(views.providers_page), name="providers"),
    path("analytics/fraud/", admin.site.admin_view(views.fraud_page), name="fraud"),
]
