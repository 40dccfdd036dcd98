from __future__ import annotations

from django.urls import URLPattern, path

from offload.workforce import staffing_views

urlpatterns: list[URLPattern] = [
    path(
        "workforce/staffing/",
        staffing_views.staffing_calculator_page,
        name="staffing_calculator",
    ),
]
