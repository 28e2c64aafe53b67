"""Staff sessions end after STAFF_SESSION_IDLE_SECONDS without a request, after
STAFF_SESSION_MAX_SECONDS in all (a back-office screen left open, a stolen cookie), and at the
next request once the account is disabled or loses its staff role. Applicants never log a
Django user in (booking keeps their contact in the session), so every logged-in user is staff."""

import logging

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from accounts.models import Role

logger = logging.getLogger("fairslot.security")

STARTED_KEY = "staff_session_started"
SEEN_KEY = "staff_session_seen"
# The last-seen time is written at most once a minute: a write on every staff request would add
# a query to each page, so a session may end up to a minute before its exact idle time.
SEEN_PRECISION_SECONDS = 60


def stamp_staff_session(sender, request, user, **kwargs):
    """user_logged_in receiver: the session's clocks start at login (login() has just given it
    a new key), also when a user logs in again over their own session."""
    now = timezone.now().timestamp()
    request.session[STARTED_KEY] = now
    request.session[SEEN_KEY] = now


def has_staff_access(user) -> bool:
    """Active, with a staff role; superusers (the admin's rare edits) need none."""
    return user.is_active and (user.is_superuser or user.role != Role.NONE)


def end_reason(session, user, now: float) -> str | None:
    """Why this session must end now, or None. A session naming a user whom auth no longer
    returns (disabled, deleted, password changed) ends too, instead of lingering."""
    if not user.is_authenticated:
        return "revoked" if auth.SESSION_KEY in session else None
    if not has_staff_access(user):
        return "revoked"
    started, seen = session.get(STARTED_KEY), session.get(SEEN_KEY)
    if started is None or seen is None:
        return "unstamped"  # logged in before these clocks existed
    if now - seen > settings.STAFF_SESSION_IDLE_SECONDS:
        return "idle"
    if now - started > settings.STAFF_SESSION_MAX_SECONDS:
        return "expired"
    return None


class StaffSessionMiddleware:
    """Replaces AuthenticationMiddleware's lazy request.user by one that also applies the rules
    above, in the same spirit as booking.middleware.ApplicantSessionMiddleware: the check runs
    only when something reads request.user, so a request that does not (the home page, static
    files) costs no query and does not count as activity. A session that must end is flushed
    and the request goes on anonymous, as auth does for a session whose password changed."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # request.auser (async views) is left as it is: every view here is synchronous.
        request.user = SimpleLazyObject(lambda: checked_user(request))
        return self.get_response(request)


def checked_user(request):
    user = auth.get_user(request)
    now = timezone.now().timestamp()
    reason = end_reason(request.session, user, now)
    if reason is not None:
        user_id = request.session.get(auth.SESSION_KEY)
        logger.info("staff session ended (%s) for user id %s", reason, user_id)
        request.session.flush()
        return AnonymousUser()
    if user.is_authenticated and now - request.session[SEEN_KEY] >= SEEN_PRECISION_SECONDS:
        request.session[SEEN_KEY] = now
    return user
