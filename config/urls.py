from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

from accounts.staff_login import StaffAdminSite

# Back-office login requires password AND a TOTP code, for every staff user, superusers included
# (django-otp's admin site, with our login form: accounts/staff_login.py).
admin.site.__class__ = StaffAdminSite

handler404 = "config.errors.api_not_found"

urlpatterns = [
    path("", include("booking.api_urls")),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/schema/", SpectacularAPIView.as_view(permission_classes=[]), name="api-schema"),
    path(
        "api/docs/",
        SpectacularRedocView.as_view(url_name="api-schema", permission_classes=[]),
        name="api-docs",
    ),
    path("", include("lottery.urls")),
    path("", include("booking.urls")),
]
