from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.utils.csp import CSP
from django.views.decorators.csp import csp_override
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

from accounts.staff_login import StaffAdminSite
from ops import health, metrics

# Back-office login requires password AND a TOTP code, for every staff user, superusers included
# (django-otp's admin site, with our login form: accounts/staff_login.py).
admin.site.__class__ = StaffAdminSite

handler400 = "config.errors.bad_request"
handler404 = "config.errors.api_not_found"

urlpatterns = [
    path("", include("booking.api_urls")),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/schema/", SpectacularAPIView.as_view(permission_classes=[]), name="api-schema"),
    path(
        "api/docs/",
        # Redoc runs its search in a Web Worker made from a blob: URL: allowed on this page only.
        csp_override({**settings.SECURE_CSP, "worker-src": [CSP.SELF, "blob:"]})(
            SpectacularRedocView.as_view(
                url_name="api-schema", permission_classes=[], template_name="api/redoc.html"
            )
        ),
        name="api-docs",
    ),
    # Normally answered by ops.middleware before routing; named here for reverse() and the tests.
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("", include("lottery.urls")),
    path("", include("booking.urls")),
]
