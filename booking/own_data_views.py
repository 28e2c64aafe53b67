"""The applicant's own data (booking.own_data): a readable page and a JSON download of
everything held on them, and the withdrawal of an entry. Logged in the applicant's way (their
contact in the session, `APPLICANT_KEY`), else sent to the log-in; never cached."""

import json

from django.contrib import messages
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from booking import own_data
from booking.forms import WEEKDAYS
from booking.views import APPLICANT_KEY
from config.errors import DomainError

WEEKDAY_NAMES = {int(day): name for day, name in WEEKDAYS}  # ISO: 1 is Monday


def _contact_id(request):
    return request.session.get(APPLICANT_KEY)


def _export_or_404(contact_id) -> dict:
    try:
        return own_data.export(contact_id)
    except DomainError as error:
        if error.http_status == 404:
            raise Http404 from None
        raise


@never_cache
@require_GET
def my_data(request):
    contact_id = _contact_id(request)
    if not contact_id:
        return redirect("my-login")
    data = _export_or_404(contact_id)
    for entry in data["entries"]:
        entry["excluded_weekday_names"] = [WEEKDAY_NAMES[day] for day in entry["excluded_weekdays"]]
    return render(request, "booking/my_data.html", {"data": data})


@never_cache
@require_GET
def my_data_json(request):
    contact_id = _contact_id(request)
    if not contact_id:
        return redirect("my-login")
    data = _export_or_404(contact_id)
    body = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="fairslot-my-data.json"'
    return response


@never_cache
@require_http_methods(["GET", "POST"])
def my_entry_withdraw(request, pk: int):
    """GET says what a withdrawal does and asks to confirm it; POST does it. Another
    contact's entry is not found."""
    contact_id = _contact_id(request)
    if not contact_id:
        return redirect("my-login")
    try:
        entry = own_data.own_entry(contact_id, pk)
    except DomainError:
        raise Http404 from None
    if request.method == "POST":
        try:
            own_data.withdraw(contact_id, pk)
        except DomainError as error:
            if error.http_status == 404:
                raise Http404 from None
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                _(
                    "Your entry %(reference)s is withdrawn. You may register again for this "
                    "procedure while the window is open."
                )
                % {"reference": entry.pseudonym},
            )
        return redirect("my-entries")
    if not own_data.can_withdraw(contact_id, pk):
        messages.error(request, _("This entry can no longer be withdrawn."))
        return redirect("my-entries")
    return render(request, "booking/my_withdraw.html", {"entry": entry})
