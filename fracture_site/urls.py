from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from diagnosis.views import LogoutWithMessage

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", LogoutWithMessage.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("diagnosis.api.urls")),
    path("", include("diagnosis.urls")),
]
