from __future__ import annotations

from django.urls import URLPattern, path

from offload.workforce import forecast_views as views

urlpatterns: list[URLPattern] = [
    path("forecasts/", views.forecast_list, name="forecast_list"),
    path("forecasts/intraday/", views.forecast_intraday, name="forecast_intraday"),
    path("forecasts/<int:pk>/", views.forecast_detail, name="forecast_detail"),
    path(
        "forecasts/<int:pk>/adjustments/<int:adjustment_id>/delete/",
        views.forecast_adjustment_delete,
        name="forecast_adjustment_delete",
    ),
]
