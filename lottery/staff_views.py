"""Staff pages of a draw: its state, and the forms for the timeline's human steps (commit,
reveal, paste the beacon round, review a held draw). They work without JavaScript.

Access: a logged-in staff user whose second factor is verified in this session, of the window's
prefecture. A draw of another prefecture answers 404, as if it did not exist. Each form view
validates the form, calls one service, and shows a DomainError's message beside the form; the
services check the role (auditor, supervisor) and the timing themselves.
"""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from accounts.access import staff_object_or_404, verified_staff
from accounts.models import Role
from booking.models import WindowState
from config.errors import Conflict, DomainError
from lottery import beacon, services, services_reveal
from lottery.forms import BeaconForm, PartyForm, RevealForm, ReviewForm
from lottery.models import BeaconMode, BeaconSource, Draw, DrawState

COMMIT_CLOSED = {WindowState.CLOSED, WindowState.DRAWN, WindowState.PUBLISHED}


def _staff_draw(user, code: str) -> Draw:
    # Another prefecture's draw must look exactly like a missing one (404).
    return staff_object_or_404(
        user,
        Draw.objects.select_related("window__prefecture"),
        prefecture_path="window__prefecture",
        window__code=code,
    )


def _own_unrevealed(draw: Draw, user) -> list[str]:
    parties = draw.parties.filter(registered_by=user, revealed_at__isnull=True)
    return list(parties.values_list("party_id", flat=True))


def _forms(draw: Draw, user, bound: dict) -> dict:
    """The forms this user may use now (each section shown only then), or the bound one that
    was just posted, shown with its errors whatever the state."""
    own = _own_unrevealed(draw, user)
    show = {
        "party_form": user.role == Role.AUDITOR
        and draw.state == DrawState.ANNOUNCED
        and draw.window.state not in COMMIT_CLOSED,
        "reveal_form": draw.state == DrawState.FROZEN and bool(own),
        "beacon_form": user.role == Role.SUPERVISOR
        and draw.beacon_mode == BeaconMode.QUICKNET
        and not draw.beacon_source
        and draw.state in (DrawState.ANNOUNCED, DrawState.FROZEN),
        "review_form": user.role == Role.SUPERVISOR and draw.state == DrawState.HELD,
    }
    blank = {
        "party_form": PartyForm,
        "reveal_form": lambda: RevealForm(parties=own),
        "beacon_form": BeaconForm,
        "review_form": ReviewForm,
    }
    return {name: bound.get(name) or (blank[name]() if show[name] else None) for name in blank}


def _render(request, draw: Draw, *, status: int = 200, **bound):
    window = draw.window
    context = {
        "title": window.title,
        "draw": draw,
        "window": window,
        "parties": list(draw.parties.order_by("party_id")),
        "beacon_time": beacon.round_time(draw.beacon_round) if draw.beacon_round else None,
        "no_beacon": draw.beacon_mode == BeaconMode.NONE,
        **_forms(draw, request.user, bound),
    }
    return render(request, "lottery/staff/draw.html", context, status=status)


@require_GET
@verified_staff
def draw_staff(request, code: str):
    return _render(request, _staff_draw(request.user, code))


def _handle(request, code: str, name: str, form_class, act, done, **form_kwargs):
    """Validate the posted form, call one service (`act`), redirect on success; otherwise
    render the page with the form, its errors and the service's message."""
    draw = _staff_draw(request.user, code)
    kwargs = {key: value(draw, request.user) for key, value in form_kwargs.items()}
    form = form_class(request.POST, **kwargs)
    status = 400
    if form.is_valid():
        try:
            act(draw, request.user, form.cleaned_data)
        except DomainError as exc:
            form.add_error(None, str(exc.message))
            status = exc.http_status
        else:
            messages.success(request, done)
            return redirect("staff-draw", code=code)
    return _render(request, draw, status=status, **{name: form})


@require_POST
@verified_staff
def party(request, code: str):
    def act(draw, user, data):
        services.register_party(window_id=draw.window_id, actor=user, **data)

    return _handle(request, code, "party_form", PartyForm, act, _("The party was registered."))


@require_POST
@verified_staff
def reveal(request, code: str):
    def act(draw, user, data):
        services_reveal.reveal_secret(window_id=draw.window_id, actor=user, **data)

    return _handle(
        request, code, "reveal_form", RevealForm, act, _("The secret was revealed."),
        parties=_own_unrevealed,
    )  # fmt: skip


@require_POST
@verified_staff
def paste_beacon(request, code: str):
    def act(draw, user, data):
        pasted = data["beacon"]
        _check_beacon_expected(draw, pasted["round"])
        services_reveal.record_beacon(
            window_id=draw.window_id,
            signature=pasted["signature"],
            randomness=pasted["randomness"],
            source=BeaconSource.PASTE,
            actor=user,
        )

    return _handle(
        request, code, "beacon_form", BeaconForm, act,
        _("The beacon round was verified and recorded."),
    )  # fmt: skip


def _check_beacon_expected(draw: Draw, round_number: int) -> None:
    # record_beacon is a silent no-op once a round is recorded (relay and paste may race);
    # on a page that would read as success, so say so instead.
    if draw.beacon_mode != BeaconMode.QUICKNET:
        raise Conflict("no_beacon", _("This draw uses no beacon."))
    if draw.beacon_source:
        raise Conflict("beacon_recorded", _("The beacon of this draw is already recorded."))
    if round_number != draw.beacon_round:
        raise DomainError("beacon_round", _("This is not the announced round."))


@require_POST
@verified_staff
def review(request, code: str):
    def act(draw, user, data):
        services.review_draw(
            window_id=draw.window_id,
            actor=user,
            approve=data["decision"] == "approve",
            note=data["note"],
        )

    return _handle(request, code, "review_form", ReviewForm, act, _("Your review was recorded."))
