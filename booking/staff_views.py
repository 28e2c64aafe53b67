"""Staff pages of booking: a supervisor's partner keys (create, list, revoke), scoped to the
supervisor's prefecture. Work without JavaScript."""

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST
from dsfr.forms import DsfrBaseForm

from accounts.access import verified_staff
from accounts.models import Role
from booking import partners
from booking.models import PartnerKey
from config.errors import DomainError


class PartnerKeyForm(DsfrBaseForm):
    name = forms.CharField(label=_("Partner's name"), max_length=100)


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
    user = _supervisor(request.user)
    partner = PartnerKey.objects.filter(pk=pk, prefecture_id=user.prefecture_id).first()
    if partner is None:
        raise Http404  # another prefecture's key looks exactly like a missing one
    partners.revoke_partner_key(partner=partner, actor=user)
    messages.success(request, _("The key is revoked."))
    return redirect("staff-partner-keys")
