"""Background tasks of forecasting (Django's Tasks API through django-tasks)."""

from __future__ import annotations

from django_tasks import task

from offload.workforce import forecast_services


@task()
def forecast_generate_task(forecast_id: int) -> dict[str, object]:
    """Generate a queued forecast; its status and error are stored on the forecast."""
    forecast = forecast_services.forecast_generate(forecast_id=forecast_id)
    return {"forecast_id": forecast.pk, "status": forecast.status}
