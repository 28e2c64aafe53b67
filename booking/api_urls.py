"""The registration API's URLs, included first in config/urls.py: a partner tool's requests, the
busiest, are matched before the pages' patterns are tried."""

from django.urls import path

from booking import api

urlpatterns = [
    path("api/v1/registrations/", api.RegistrationStart.as_view(), name="api-registration-start"),
    # The registration token is a bearer secret: it travels in the body, never in the URL.
    path(
        "api/v1/registrations/status/",
        api.RegistrationStatus.as_view(),
        name="api-registration-status",
    ),
    path(
        "api/v1/registrations/verify/",
        api.RegistrationVerify.as_view(),
        name="api-registration-verify",
    ),
    path(
        "api/v1/registrations/submit/",
        api.RegistrationSubmit.as_view(),
        name="api-registration-submit",
    ),
]
