from django.contrib import admin
from django.urls import include, path
from django_otp.admin import OTPAdminSite
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

# Back-office login requires password AND a TOTP code, for every staff user, superusers included.
admin.site.__class__ = OTPAdminSite
admin.site.site_header = "Fairslot — back office"
admin.site.site_title = "Fairslot"

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
