from django.urls import include, path

urlpatterns = [
    path("", include("offload.workforce.staffing_urls")),
    path("", include("offload.workforce.forecast_urls")),
    path("", include("offload.workforce.schedule_urls")),
]
