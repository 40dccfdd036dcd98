"""Workforce planning's tables: forecasts (forecasts.py) and schedules (schedules.py).

Two modules because forecasting and scheduling change separately; Django sees one
app. Each module's models are re-exported here.
"""

from offload.workforce.models.forecasts import *  # noqa: F403
from offload.workforce.models.schedules import *  # noqa: F403
