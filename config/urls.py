from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from config.api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="tenancy/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("offload.work.urls")),
    path("", include("offload.workforce.urls")),
    path("", include("offload.twin.urls")),
    path("", include("offload.workers.urls")),
    path("", include("offload.contracts.urls")),
    path("", include("offload.tenancy.urls")),
]
