"""Applicant sessions end after APPLICANT_SESSION_IDLE seconds without a request (a shared or
public computer left open); staff sessions follow accounts.middleware.StaffSessionMiddleware."""

from django.conf import settings

from booking.views import APPLICANT_KEY


class ApplicantSessionMiddleware:
    """Pushes an applicant session's expiry APPLICANT_SESSION_IDLE seconds past each request
    that reads it: `set_expiry` with seconds counts from the session's save, and the session
    store (database or cache) drops it once expired. A request that does not read the session
    (the home page, static files) neither costs a query nor counts as activity."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is not None and session.accessed and session.get(APPLICANT_KEY):
            session.set_expiry(settings.APPLICANT_SESSION_IDLE)
        return response
