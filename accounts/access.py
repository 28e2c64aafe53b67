"""Who may open staff pages: a logged-in staff user whose second factor is verified
(`verified_staff`), and who sees only their own prefecture's objects (`staff_object_or_404`)."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.cache import never_cache

from accounts.models import Role

# The prefecture's own staff. Helpers (associations) see only their own pages, which name
# Role.HELPER themselves (booking.staff_registration).
STAFF_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR, Role.AUDITOR})


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


def staff_object_or_404(user, queryset, *, prefecture_path: str, roles=STAFF_ROLES, **lookup):
    """The object of `queryset` matching `lookup`, if `user` may see it on a staff page or API;
    otherwise Http404, the same answer as for a missing object, so that another prefecture's
    objects cannot even be told to exist.

    `user` may see it when they are logged in with a verified second factor, hold a role in
    `roles`, and the object's prefecture (reached from the queryset's model by
    `prefecture_path`, e.g. "window__prefecture") is theirs. The prefecture is a condition of
    the query itself, not a comparison after the fetch, so no path leaves it out.

    Superusers get nothing more here: /staff/ is for prefecture staff, and a superuser without
    a role and prefecture of their own gets 404 like anyone else (they edit any prefecture's
    objects in the Django admin, accounts.admin_scoping). Callers still run their services'
    own role checks; accounts imports no booking or lottery model, so callers pass the
    queryset.
    """
    if not _may_work_on_prefecture(user, roles):
        raise Http404
    own = queryset.filter(**{prefecture_path: user.prefecture_id})
    return get_object_or_404(own, **lookup)


def _may_work_on_prefecture(user, roles) -> bool:
    verified = getattr(user, "is_verified", None)  # set by django-otp's middleware
    return bool(
        user is not None
        and user.is_authenticated
        and verified is not None
        and verified()
        and getattr(user, "role", "") in roles
        and getattr(user, "prefecture_id", None) is not None
    )
