"""Who may open staff pages: a logged-in staff user whose second factor is verified."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.views.decorators.cache import never_cache


def verified_staff(view):
    """Anonymous: to the (password + TOTP) login. Logged in without a verified second factor:
    403. Like django_otp's otp_required, but an unverified session is refused, not looped."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        if not user.is_verified():
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return never_cache(wrapper)
