from __future__ import annotations

from django.urls import URLPattern, path

from offload.twin import views

urlpatterns: list[URLPattern] = [
    path("twin/", views.twin_scenario_list, name="twin_scenario_list"),
    path("twin/new/", views.twin_scenario_new, name="twin_scenario_new"),
    path("twin/changes/form/", views.twin_change_form, name="twin_change_form"),
    path("twin/compare/", views.twin_compare, name="twin_compare"),
    path("twin/<int:pk>/", views.twin_scenario_detail, name="twin_scenario_detail"),
    path("twin/runs/<int:pk>/", views.twin_run_detail, name="twin_run_detail"),
]
