from django.urls import path

from offload.contracts import views

urlpatterns = [
    path("", views.home, name="home"),
    path("orgs/<slug:slug>/", views.organisation_detail, name="organisation_detail"),
    path("engagements/<int:pk>/", views.engagement_detail, name="engagement_detail"),
    path("processes/<int:pk>/", views.process_detail, name="process_detail"),
    path("documents/<int:pk>/", views.document_detail, name="document_detail"),
    path("calendars/<int:pk>/", views.calendar_detail, name="calendar_detail"),
    path("sla-policies/<int:pk>/", views.sla_policy_detail, name="sla_policy_detail"),
]
