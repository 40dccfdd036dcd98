from offload.workforce import forecast_admin, schedule_admin  # noqa: F401
