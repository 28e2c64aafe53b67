"""The staff login (/admin/login/): username, password and TOTP code checked together, refused
with one message whichever was wrong, locked out by django-axes, watched for repeated failures.

Any answer that differs between "wrong password" and "right password, wrong code" (a message,
a device picker, the password echoed back, a skipped hash) tells an attacker that the password
is right, and the TOTP code is then all that stands between them and the account.
"""

import ipaddress
import logging
from datetime import timedelta

from axes.models import AccessFailureLog
from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_login_failed
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop
from django_otp import match_token
from django_otp.admin import OTPAdminSite

from accounts.crypto import blind_index

security_log = logging.getLogger("fairslot.security")

REFUSAL = _("Incorrect username, password or code.")

# django-otp 1.7.5 has no French for this message of its login forms (its others have some).
# Our catalog (LOCALE_PATHS) comes before the apps' catalogs, so naming the exact msgid here
# gives it French wherever django-otp shows it; StaffLoginForm itself only ever says REFUSAL.
DJANGO_OTP_MESSAGES_WITHOUT_FRENCH = (gettext_noop("Please select a device."),)


class OneTimeCodeInput(forms.TextInput):
    """A code is good once: the re-displayed form starts empty, whatever was typed."""

    def get_context(self, name, value, attrs):
        return super().get_context(name, None, attrs)


class StaffLoginForm(AdminAuthenticationForm):
    """Admin login with a TOTP code. Every refusal (unknown user, wrong password, account not
    staff, code wrong or missing, device throttled) raises the same error, after the password
    hasher has run, and counts as a failed login for axes. There is no device picker: the code
    is tried on the user's confirmed devices (staff have one TOTP device each), because a
    picker shown after a right password would tell that the password was right."""

    otp_token = forms.CharField(
        label=_("Code from the authenticator app"),
        required=False,
        max_length=16,
        widget=OneTimeCodeInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
    error_messages = {"invalid_login": REFUSAL, "inactive": REFUSAL}

    # AuthenticationForm.clean() calls authenticate() (axes first, then the hasher, which runs
    # for an unknown username too), and this once the password is right.
    def confirm_login_allowed(self, user):
        try:
            super().confirm_login_allowed(user)  # active and staff
        except forms.ValidationError:
            self.refuse()
        token = "".join((self.cleaned_data.get("otp_token") or "").split())
        device = match_token(user, token) if token else None
        if device is None:
            self.refuse()
        # django-otp's user_logged_in receiver records the device in the session.
        user.otp_device = device

    def refuse(self):
        """Refuse as a wrong password is refused, and count it as one: authenticate() only
        reports a wrong password to axes, so a wrong code is reported here."""
        username_field = get_user_model().USERNAME_FIELD
        user_login_failed.send(
            sender=type(self),
            credentials={username_field: self.cleaned_data.get("username")},
            request=self.request,
        )
        self.user_cache = None
        raise self.get_invalid_login_error()


class StaffAdminSite(OTPAdminSite):
    """django-otp's admin site (verified staff only) with the login above."""

    login_form = StaffLoginForm
    login_template = "accounts/staff_login.html"
    site_header = _("Fairslot — back office")
    site_title = "Fairslot"


def client_address(request) -> str | None:
    """The address axes counts failures by (AXES_CLIENT_IP_CALLABLE): booking.web.client_ip's
    rule (accounts may not import booking), and None for anything that is not an IP address,
    which axes' column (inet on PostgreSQL) would refuse with a 500."""
    address = request.META.get("REMOTE_ADDR", "")
    count = settings.TRUSTED_PROXY_COUNT
    if count:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if len(hops) >= count:
            address = hops[-count]
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def lockout_response(request, original_response, credentials):
    """The page a locked-out login gets (AXES_LOCKOUT_CALLABLE), 429 Too Many Requests."""
    context = {
        **admin.site.each_context(request),
        "title": _("Log-in blocked"),
        "minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
    }
    return render(request, "accounts/staff_locked_out.html", context, status=429)


def alert_on_repeated_failures(sender, credentials, request=None, **kwargs):
    """user_login_failed receiver: one WARNING when a username reaches
    STAFF_LOGIN_ALERT_FAILURES failures in 24 hours, counted from axes' AccessFailureLog (its
    last 1000 rows per username are kept, unlike its attempts, which a success or the cool-off
    clears). Connected after axes' own receiver (INSTALLED_APPS order), so the failure just
    made is already counted."""
    username = credentials.get(get_user_model().USERNAME_FIELD)
    if not username:
        return
    since = timezone.now() - timedelta(hours=24)
    failures = AccessFailureLog.objects.filter(username=username, attempt_time__gte=since).count()
    # Equality: one line when the threshold is reached, not one per failure after it. Two
    # failures committed at the same instant may both count past it; that only loses a line
    # that axes' own records still show.
    if failures == settings.STAFF_LOGIN_ALERT_FAILURES:
        security_log.warning(
            "staff login: %d failed attempts in 24 hours for %s",
            failures,
            username_for_log(username),
        )


def username_for_log(username: str) -> str:
    """A staff username may be logged; any other string typed there (a password typed in the
    wrong field, someone's e-mail) only as its keyed hash."""
    if get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: username}).exists():
        return f"username {username!r}"
    return f"unknown username (keyed hash {blind_index('staff-username', username)[:16]})"
