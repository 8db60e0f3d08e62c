from django.urls import path

from apps.incentives.api import views

urlpatterns = [
    path("billing/prices", views.PriceListView.as_view(), name="billing-prices"),
]
