from __future__ import annotations

from django.urls import URLPattern, path

from offload.workforce import schedule_views as views

urlpatterns: list[URLPattern] = [
    path("schedules/", views.schedule_list, name="schedule_list"),
    path("schedules/<int:pk>/", views.schedule_detail, name="schedule_detail"),
    path("schedules/rules/", views.planning_rules, name="planning_rules"),
    path("schedules/rules/agents/<int:pk>/", views.agent_contract_edit, name="agent_contract_edit"),
    path("time-off/", views.time_off_list, name="time_off_list"),
    path("time-off/<int:pk>/decide/", views.time_off_decide, name="time_off_decide"),
]
