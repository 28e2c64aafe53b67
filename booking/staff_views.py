"""Staff pages of booking, scoped to the supervisor's prefecture: partner keys (create, list,
revoke) and the review of likely duplicates before the freeze. Work without JavaScript."""

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from dsfr.forms import DsfrBaseForm

from accounts.access import staff_object_or_404, verified_staff
from accounts.models import Role
from booking import duplicates, partners
from booking.models import PartnerKey, Window
from config.errors import DomainError

DUPLICATES_PER_PAGE = 50


class PartnerKeyForm(DsfrBaseForm):
    name = forms.CharField(label=_("Partner's name"), max_length=100)


class KeepBothForm(DsfrBaseForm):
    note = forms.CharField(
        label=_("Reason"),
        max_length=200,
        help_text=_("A short reason, kept with the decision (200 characters at most)."),
    )

    def __init__(self, *args, **kwargs):
        # Both decision forms are on one page: ids of their own, the same field names.
        kwargs.setdefault("auto_id", f"{type(self).__name__.lower()}_%s")
        super().__init__(*args, **kwargs)


class WithdrawForm(KeepBothForm):
    entry = forms.TypedChoiceField(
        label=_("Entry to withdraw"), coerce=int, widget=forms.RadioSelect
    )
    field_order = ["entry", "note"]

    def __init__(self, *args, entries=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["entry"].choices = [
            (entry.pk, entry.pseudonym)
            for entry in entries
            if entry.status in duplicates.WITHDRAWABLE
        ]


def _supervisor(user):
    if user.role != Role.SUPERVISOR or user.prefecture_id is None:
        raise Http404
    return user


@verified_staff
@require_http_methods(["GET", "POST"])
def partner_keys(request):
    user = _supervisor(request.user)
    form = PartnerKeyForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        try:
            _partner, new_key = partners.create_partner_key(
                prefecture=user.prefecture, name=form.cleaned_data["name"], actor=user
            )
        except DomainError as exc:
            form.add_error(None, str(exc.message))
        else:
            form = PartnerKeyForm()
    keys = PartnerKey.objects.filter(prefecture_id=user.prefecture_id).order_by("-created_at")
    return render(
        request,
        "booking/staff/partner_keys.html",
        {"form": form, "keys": keys, "new_key": new_key},
    )


@verified_staff
@require_POST
def partner_key_revoke(request, pk: int):
    user = request.user
    # Another prefecture's key looks exactly like a missing one (404).
    partner = staff_object_or_404(
        user, PartnerKey.objects.all(), prefecture_path="prefecture", roles={Role.SUPERVISOR}, pk=pk
    )
    partners.revoke_partner_key(partner=partner, actor=user)
    messages.success(request, _("The key is revoked."))
    return redirect("staff-partner-keys")


def _flag(user, pk: int):
    # Another prefecture's flag, or a role other than supervisor, is a 404 like a missing flag.
    return staff_object_or_404(
        user,
        duplicates.flags_with_similar_entry(),
        prefecture_path="entry__window__prefecture",
        roles={Role.SUPERVISOR},
        pk=pk,
    )


@verified_staff
@require_GET
def duplicate_queue(request, code: str):
    window = staff_object_or_404(
        request.user,
        Window.objects.all(),
        prefecture_path="prefecture",
        roles={Role.SUPERVISOR},
        code=code,
    )
    flags = duplicates.unreviewed_flags(window)
    page = Paginator(flags, DUPLICATES_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "title": window.title,
        "window": window,
        "page": page,
        "rows": duplicates.with_similar_entries(page.object_list),
    }
    return render(request, "booking/staff/duplicates.html", context)


def _render_pair(request, flag, *, status: int = 200, **bound):
    """The pair side by side (an audited identity read), with the decision forms while the
    flag can be decided, or the form just posted with its errors."""
    entries = duplicates.read_pair(flag=flag, actor=request.user)
    forms_shown = duplicates.is_reviewable(flag)
    context = {
        "title": _("Likely duplicate"),
        "flag": flag,
        "window": flag.entry.window,
        "entries": entries,
        "keep_form": bound.get("keep_form") or (KeepBothForm() if forms_shown else None),
        "withdraw_form": bound.get("withdraw_form")
        or (WithdrawForm(entries=entries) if forms_shown else None),
    }
    return render(request, "booking/staff/duplicate.html", context, status=status)


@verified_staff
@require_GET
def duplicate_detail(request, pk: int):
    return _render_pair(request, _flag(request.user, pk))


def _decide(request, flag, name: str, form, act):
    """Validate the posted form, call one service (`act`), back to the queue on success;
    otherwise the pair again, with the form, its errors and the service's message."""
    status = 400
    if form.is_valid():
        try:
            act(form.cleaned_data)
        except DomainError as exc:
            form.add_error(None, str(exc.message))
            status = exc.http_status
        else:
            messages.success(request, _("Your decision was recorded."))
            return redirect("staff-duplicates", code=flag.entry.window.code)
    return _render_pair(request, flag, status=status, **{name: form})


@verified_staff
@require_POST
def duplicate_keep_both(request, pk: int):
    user = request.user
    flag = _flag(user, pk)

    def act(data):
        duplicates.review_keep_both(flag_id=flag.pk, actor=user, note=data["note"])

    return _decide(request, flag, "keep_form", KeepBothForm(request.POST), act)


@verified_staff
@require_POST
def duplicate_withdraw(request, pk: int):
    user = request.user
    flag = _flag(user, pk)
    form = WithdrawForm(request.POST, entries=duplicates.pair_entries(flag))

    def act(data):
        duplicates.review_withdraw(
            flag_id=flag.pk, entry_pk=data["entry"], actor=user, note=data["note"]
        )

    return _decide(request, flag, "withdraw_form", form, act)
