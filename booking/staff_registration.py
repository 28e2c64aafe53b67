"""Staff pages of registration: an agent or supervisor registers a walk-in person at the counter
and prints the receipt; a supervisor approves organisations and helper accounts; an approved
helper registers the people they accompany and follows the status of those entries only. All
scoped to the user's prefecture (another prefecture's objects are a 404) and working without
JavaScript."""

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, F
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import staff_object_or_404, verified_staff
from accounts.models import Role
from booking import counter, helpers, receipts, selectors
from booking.forms import HelperRegistrationForm, OrganisationForm, StaffRegistrationForm
from booking.models import Entry, HelperMembership, Organisation, Window
from config.errors import DomainError

ENTRIES_PER_PAGE = 50
RECEIPT_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR, Role.HELPER})


def _role(user, *roles):
    """The user, if they hold one of `roles` in a prefecture; otherwise 404, as for a page of
    another prefecture."""
    if getattr(user, "role", "") not in roles or user.prefecture_id is None:
        raise Http404
    return user


def _show_error(form, exc: DomainError) -> None:
    field = getattr(exc, "field", None)
    form.add_error(field if field in form.fields else None, str(exc.message))


def _register_page(request, window, form, register, *, helper: bool = False):
    """Validate the form, call `register(form)` (one service), then to the printable receipt;
    otherwise the form again, with its errors and the service's refusal."""
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                entry = register(form)
            except DomainError as exc:
                _show_error(form, exc)
                status = exc.http_status
            else:
                messages.success(request, _("The person is registered."))
                return redirect("staff-entry-receipt", entry_id=entry.entry_id)
    context = {
        "title": window.title,
        "window": window,
        "form": form,
        "helper": helper,
        "is_open": selectors.open_windows().filter(pk=window.pk).exists(),
    }
    return render(request, "booking/staff/register.html", context, status=status)


def _language(form) -> str:
    return form.cleaned_data.get("language") or get_language()


@verified_staff
@require_http_methods(["GET", "POST"])
def counter_register(request, code: str):
    user = request.user
    window = staff_object_or_404(
        user,
        Window.objects.all(),
        prefecture_path="prefecture",
        roles=counter.COUNTER_ROLES,
        code=code,
    )
    form = StaffRegistrationForm(request.POST or None, window=window)

    def register(form):
        return counter.register_at_counter(
            window=window, data=form.to_input(), actor=user, language=_language(form)
        )

    return _register_page(request, window, form, register)


@verified_staff
@require_GET
def entry_receipt(request, entry_id: str):
    """The receipt of an entry, to print for the person: agents and supervisors of the
    entry's prefecture, or the helper who registered it."""
    user = request.user
    entries = Entry.objects.select_related("window__prefecture", "procedure")
    if user.role == Role.HELPER:
        entries = entries.filter(registered_by=user)
    entry = staff_object_or_404(
        user,
        entries,
        prefecture_path="window__prefecture",
        roles=RECEIPT_ROLES,
        entry_id=entry_id,
    )
    token = receipts.receipt_token(entry)
    context = {
        "title": _("Registration receipt"),
        "entry": entry,
        "token": token,
        "data": receipts.check_receipt(token),
        "short_url": settings.SITE_URL + reverse("receipt-short", args=[entry.entry_id]),
        "check_url": settings.SITE_URL + reverse("receipt-check"),
        "back": "staff-helper" if user.role == Role.HELPER else "staff-counter-register",
    }
    return render(request, "booking/staff/receipt.html", context)


# --- Organisations and helpers: the supervisor's side -------------------------------------------


@verified_staff
@require_GET
def organisations(request):
    user = _role(request.user, Role.SUPERVISOR)
    own = Organisation.objects.filter(prefecture_id=user.prefecture_id)
    listed = own.annotate(helpers=Count("memberships")).order_by(
        F("approved_at").asc(nulls_first=True), "name"
    )
    memberships = (
        HelperMembership.objects.filter(organisation__prefecture_id=user.prefecture_id)
        .select_related("user", "organisation")
        .order_by(F("approved_at").asc(nulls_first=True), "organisation__name", "user__username")
    )
    context = {
        "title": _("Associations and helpers"),
        "organisations": listed,
        "memberships": memberships,
    }
    return render(request, "booking/staff/organisations.html", context)


def _approved_message(request, approved: bool) -> None:
    if approved:
        messages.success(request, _("Approved."))
    else:
        messages.info(request, _("It was already approved."))


def _revoked_message(request, revoked: bool) -> None:
    if revoked:
        messages.success(request, _("Revoked: no new registration from now on."))
    else:
        messages.info(request, _("It was already revoked, or never approved."))


def _own_organisation(user, pk: int) -> Organisation:
    return staff_object_or_404(
        user,
        Organisation.objects.all(),
        prefecture_path="prefecture",
        roles={Role.SUPERVISOR},
        pk=pk,
    )


def _own_membership(user, pk: int) -> HelperMembership:
    return staff_object_or_404(
        user,
        HelperMembership.objects.all(),
        prefecture_path="organisation__prefecture",
        roles={Role.SUPERVISOR},
        pk=pk,
    )


@verified_staff
@require_POST
def organisation_approve(request, pk: int):
    organisation = _own_organisation(request.user, pk)
    approved = helpers.approve_organisation(organisation_id=organisation.pk, actor=request.user)
    _approved_message(request, approved)
    return redirect("staff-organisations")


@verified_staff
@require_POST
def organisation_revoke(request, pk: int):
    organisation = _own_organisation(request.user, pk)
    revoked = helpers.revoke_organisation(organisation_id=organisation.pk, actor=request.user)
    _revoked_message(request, revoked)
    return redirect("staff-organisations")


@verified_staff
@require_POST
def helper_approve(request, pk: int):
    membership = _own_membership(request.user, pk)
    approved = helpers.approve_helper(membership_id=membership.pk, actor=request.user)
    _approved_message(request, approved)
    return redirect("staff-organisations")


@verified_staff
@require_POST
def helper_revoke(request, pk: int):
    membership = _own_membership(request.user, pk)
    revoked = helpers.revoke_helper(membership_id=membership.pk, actor=request.user)
    _revoked_message(request, revoked)
    return redirect("staff-organisations")


# --- The helper's side --------------------------------------------------------------------------


@verified_staff
@require_http_methods(["GET", "POST"])
def helper_home(request):
    """The helper's page: their organisation and its approval, the form to join one while
    they have none, and the open windows they may register people into."""
    user = _role(request.user, Role.HELPER)
    membership = helpers.membership_of(user)
    form = OrganisationForm(request.POST or None) if membership is None else None
    status = 200
    if request.method == "POST":
        status = 409 if form is None else 400
        if form is not None and form.is_valid():
            try:
                helpers.request_membership(user=user, organisation_name=form.cleaned_data["name"])
            except DomainError as exc:
                _show_error(form, exc)
                status = exc.http_status
            else:
                messages.success(request, _("Your request is sent to the prefecture."))
                return redirect("staff-helper")
    approved = helpers.is_approved(membership, user)
    windows = selectors.open_windows().filter(prefecture_id=user.prefecture_id) if approved else []
    context = {
        "title": _("Registering the people I accompany"),
        "membership": membership,
        "approved": approved,
        "form": form,
        "windows": windows,
    }
    return render(request, "booking/staff/helper_home.html", context, status=status)


@verified_staff
@require_GET
def helper_entries(request):
    user = _role(request.user, Role.HELPER)
    page = Paginator(helpers.helper_entries(user), ENTRIES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    context = {"title": _("The people I registered"), "page": page}
    return render(request, "booking/staff/helper_entries.html", context)


@verified_staff
@require_http_methods(["GET", "POST"])
def helper_register(request, code: str):
    user = request.user
    window = staff_object_or_404(
        user, Window.objects.all(), prefecture_path="prefecture", roles={Role.HELPER}, code=code
    )
    if not helpers.is_approved(helpers.membership_of(user), user):
        return render(request, "booking/staff/helper_waiting.html", {"window": window}, status=403)
    form = HelperRegistrationForm(request.POST or None, window=window)

    def register(form):
        return helpers.register_for_helper(
            window=window,
            data=form.to_input(),
            actor=user,
            consent=form.cleaned_data["consent"],
            language=_language(form),
        )

    return _register_page(request, window, form, register, helper=True)
