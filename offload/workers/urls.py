from django.urls import path

from offload.workers import views

urlpatterns = [
    path("workers/", views.worker_list, name="worker_list"),
]
