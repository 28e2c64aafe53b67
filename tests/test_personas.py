"""Who reaches what: every route of config/urls.py, asked by every persona, for an object of
Isère (A), of Rhône (B) or of the first applicant (own), compared with the matrix below.

Personas: an anonymous visitor, two applicants (logged in the applicant's way, by their contact
in the session), and in each prefecture an agent, a supervisor, an auditor and a helper, each
logged in with a verified second factor.

Decisions, as written in the matrix:
    o  ok       2xx, or a redirect that is the route's normal outcome
    L  login    a redirect to a login page (the staff one or the applicant one)
    D  denied   401 or 403
    M  missing  404, or the Django admin's redirect to its index ("no such object")
    R  reached  400, 409 or 422: past the access check, refused on the body or the state
Pages are asked with GET; POST routes get an empty body (an empty JSON object under /api/):
enough to tell whether the access check let the persona through. The offer pages are asked
both ways. Only the partner-key revoke, the log-out, the language switch and the revocations
of a helper and an association (a spare one, which no persona uses) act on an empty body, and
each does it again harmlessly (the approvals of an organisation or a helper target ones already
approved: a no-op); no request changes an appointment.
"""

import importlib
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import AuditEvent, Role, User
from booking import helpers, partners, receipts
from booking.models import (
    Appointment,
    AppointmentState,
    Channel,
    DuplicateFlag,
    Entry,
    HelperMembership,
    Organisation,
    PartnerKey,
    Site,
    Window,
    WindowState,
)
from booking.views import APPLICANT_KEY
from lottery import offer_links, services_offers
from lottery.models import RequestKind, StaffRequest
from ops import health
from tests.factories import (
    ContactFactory,
    EntryFactory,
    PrefectureFactory,
    SiteFactory,
    StaffFactory,
    WindowFactory,
)
from tests.lottery.conftest import Timeline

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")

PERSONAS = [
    "anonymous", "applicant", "second_applicant",
    "isere.agent", "isere.supervisor", "isere.auditor", "isere.helper",
    "rhone.agent", "rhone.supervisor", "rhone.auditor", "rhone.helper",
]  # fmt: skip
STAFF_ROLES = [Role.AGENT, Role.SUPERVISOR, Role.AUDITOR, Role.HELPER]
DECISIONS = {"o": "ok", "L": "login", "D": "denied", "M": "missing", "R": "reached"}

# Columns: the personas above, in that order (I = Isère, R = Rhône).
#  route                             method target  anon app1 app2  I: ag su au he  R: ag su au he
MATRIX = """
home                                 GET   -       o o o   o o o o   o o o o
footer-accessibility-status          GET   -       o o o   o o o o   o o o o
altcha-challenge                     GET   -       o o o   o o o o   o o o o
set_language                         POST  -       o o o   o o o o   o o o o
api-schema                           GET   -       o o o   o o o o   o o o o
healthz                              GET   -       o o o   o o o o   o o o o
readyz                               GET   -       o o o   o o o o   o o o o
metrics                              GET   -       M M M   M M M M   M M M M
api-docs                             GET   -       o o o   o o o o   o o o o
api-registration-start               POST  -       R R R   R R R R   R R R R
api-registration-status              POST  -       R R R   R R R R   R R R R
api-registration-verify              POST  -       R R R   R R R R   R R R R
api-registration-submit              POST  -       R R R   R R R R   R R R R
register                             GET   A       o o o   o o o o   o o o o
register                             GET   B       o o o   o o o o   o o o o
register-verify                      GET   -       o o o   o o o o   o o o o
register-resend                      POST  -       o o o   o o o o   o o o o
receipt-check                        GET   -       o o o   o o o o   o o o o
receipt                              GET   A       o o o   o o o o   o o o o
receipt                              GET   B       o o o   o o o o   o o o o
receipt                              GET   own     o o o   o o o o   o o o o
receipt-short                        GET   A       o o o   o o o o   o o o o
receipt-short                        GET   B       o o o   o o o o   o o o o
receipt-short                        GET   own     o o o   o o o o   o o o o
my-login                             GET   -       o o o   o o o o   o o o o
my-code                              GET   -       L L L   L L L L   L L L L
my-logout                            POST  -       o o o   o o o o   o o o o
my-entries                           GET   -       L o o   L L L L   L L L L
my-data                              GET   -       L o o   L L L L   L L L L
my-data-json                         GET   -       L o o   L L L L   L L L L
my-entry-withdraw                    GET   A       L M M   L L L L   L L L L
my-entry-withdraw                    GET   B       L M M   L L L L   L L L L
my-entry-withdraw                    GET   own     L o M   L L L L   L L L L
my-entry-withdraw                    POST  A       L M M   L L L L   L L L L
my-entry-withdraw                    POST  B       L M M   L L L L   L L L L
my-entry-withdraw                    POST  own     L o M   L L L L   L L L L
my-appointment                       GET   A       L M M   L L L L   L L L L
my-appointment                       GET   B       L M M   L L L L   L L L L
my-appointment                       GET   own     L o M   L L L L   L L L L
my-appointment                       POST  A       L M M   L L L L   L L L L
my-appointment                       POST  B       L M M   L L L L   L L L L
my-appointment                       POST  own     L o M   L L L L   L L L L
my-convocation                       GET   A       L M M   L L L L   L L L L
my-convocation                       GET   own     L M M   L L L L   L L L L
my-convocation                       GET   conf    L M o   L L L L   L L L L
my-convocation-pdf                   GET   A       L M M   L L L L   L L L L
my-convocation-pdf                   GET   own     L M M   L L L L   L L L L
my-convocation-pdf                   GET   conf    L M o   L L L L   L L L L
my-appointment-ics                   GET   A       L M M   L L L L   L L L L
my-appointment-ics                   GET   own     L M M   L L L L   L L L L
my-appointment-ics                   GET   conf    L M o   L L L L   L L L L
offer                                GET   A       o o o   o o o o   o o o o
offer                                GET   own     o o o   o o o o   o o o o
offer                                GET   bad     M M M   M M M M   M M M M
offer-answer                         GET   A       o o o   o o o o   o o o o
offer-answer                         POST  bad     M M M   M M M M   M M M M
offer-convocation-pdf                GET   own     M M M   M M M M   M M M M
offer-convocation-pdf                GET   conf    o o o   o o o o   o o o o
offer-ics                            GET   own     M M M   M M M M   M M M M
offer-ics                            GET   conf    o o o   o o o o   o o o o
api-appointment-action               POST  A       D M M   D D D D   D D D D
api-appointment-action               POST  B       D M M   D D D D   D D D D
api-appointment-action               POST  own     D R M   D D D D   D D D D
draw-list                            GET   -       o o o   o o o o   o o o o
draw-how-to-check                    GET   -       o o o   o o o o   o o o o
draw-feed                            GET   -       o o o   o o o o   o o o o
draw-spec                            GET   -       o o o   o o o o   o o o o
draw-detail                          GET   A       o o o   o o o o   o o o o
draw-detail                          GET   B       o o o   o o o o   o o o o
draw-short                           GET   A       o o o   o o o o   o o o o
draw-short                           GET   B       o o o   o o o o   o o o o
draw-kit                             GET   A       o o o   o o o o   o o o o
draw-kit                             GET   B       o o o   o o o o   o o o o
draw-file                            GET   A       o o o   o o o o   o o o o
draw-file                            GET   B       o o o   o o o o   o o o o
api-draw                             GET   A       o o o   o o o o   o o o o
api-draw                             GET   B       o o o   o o o o   o o o o
api-draw-list                        GET   -       o o o   o o o o   o o o o
staff-draw                           GET   A       L L L   o o o M   M M M M
staff-draw                           GET   B       L L L   M M M M   o o o M
staff-draw-party                     POST  A       L L L   R R R M   M M M M
staff-draw-party                     POST  B       L L L   M M M M   R R R M
staff-draw-reveal                    POST  A       L L L   R R R M   M M M M
staff-draw-reveal                    POST  B       L L L   M M M M   R R R M
staff-draw-beacon                    POST  A       L L L   R R R M   M M M M
staff-draw-beacon                    POST  B       L L L   M M M M   R R R M
staff-draw-review                    POST  A       L L L   R R R M   M M M M
staff-draw-review                    POST  B       L L L   M M M M   R R R M
api-draw-parties                     POST  A       D D D   R R R M   M M M M
api-draw-parties                     POST  B       D D D   M M M M   R R R M
api-draw-reveals                     POST  A       D D D   R R R M   M M M M
api-draw-reveals                     POST  B       D D D   M M M M   R R R M
api-draw-beacon                      POST  A       D D D   R R R M   M M M M
api-draw-beacon                      POST  B       D D D   M M M M   R R R M
api-draw-review                      POST  A       D D D   R R R M   M M M M
api-draw-review                      POST  B       D D D   M M M M   R R R M
staff-home                           GET   -       L L L   o o o M   o o o M
staff-requests                       GET   -       L L L   o o o M   o o o M
staff-request-decide                 POST  A       L L L   o o o M   M M M M
staff-request-decide                 POST  B       L L L   M M M M   o o o M
staff-partner-keys                   GET   -       L L L   M o M M   M o M M
staff-partner-key-revoke             POST  A       L L L   M o M M   M M M M
staff-partner-key-revoke             POST  B       L L L   M M M M   M o M M
staff-window-capacity                GET   A       L L L   o o o M   M M M M
staff-window-capacity                GET   B       L L L   M M M M   o o o M
staff-window-capacity                POST  A       L L L   R R D M   M M M M
staff-window-capacity                POST  B       L L L   M M M M   R R D M
staff-duplicates                     GET   A       L L L   M o M M   M M M M
staff-duplicates                     GET   B       L L L   M M M M   M o M M
staff-duplicate                      GET   A       L L L   M o M M   M M M M
staff-duplicate                      GET   B       L L L   M M M M   M o M M
staff-duplicate-keep-both            POST  A       L L L   M R M M   M M M M
staff-duplicate-keep-both            POST  B       L L L   M M M M   M R M M
staff-duplicate-withdraw             POST  A       L L L   M R M M   M M M M
staff-duplicate-withdraw             POST  B       L L L   M M M M   M R M M
staff-day-pick                       GET   -       L L L   o o o M   o o o M
staff-day                            GET   A       L L L   o o o M   M M M M
staff-day                            GET   B       L L L   M M M M   o o o M
staff-day-export                     GET   A       L L L   o o o M   M M M M
staff-day-export                     GET   B       L L L   M M M M   o o o M
staff-checkin                        GET   -       L L L   o o M M   o o M M
staff-checkin                        POST  -       L L L   R R M M   R R M M
staff-checkin-present                POST  -       L L L   R R M M   R R M M
staff-appointment-absent             POST  A       L L L   R R M M   M M M M
staff-appointment-absent             POST  B       L L L   M M M M   R R M M
staff-appointment-answer             GET   A       L L L   o o M M   M M M M
staff-appointment-answer             GET   B       L L L   M M M M   o o M M
staff-appointment-answer             POST  A       L L L   R R M M   M M M M
staff-appointment-answer             POST  B       L L L   M M M M   R R M M
staff-appointment-convocation        GET   A       L L L   M M M M   M M M M
staff-appointment-convocation        GET   B       L L L   M M M M   M M M M
staff-counter-register               GET   A       L L L   o o M M   M M M M
staff-counter-register               GET   B       L L L   M M M M   o o M M
staff-counter-register               POST  A       L L L   R R M M   M M M M
staff-counter-register               POST  B       L L L   M M M M   R R M M
staff-entry-receipt                  GET   A       L L L   o o M o   M M M M
staff-entry-receipt                  GET   B       L L L   M M M M   o o M o
staff-organisations                  GET   -       L L L   M o M M   M o M M
staff-organisation-approve           POST  A       L L L   M o M M   M M M M
staff-organisation-approve           POST  B       L L L   M M M M   M o M M
staff-helper-approve                 POST  A       L L L   M o M M   M M M M
staff-helper-approve                 POST  B       L L L   M M M M   M o M M
staff-organisation-revoke            POST  A       L L L   M o M M   M M M M
staff-organisation-revoke            POST  B       L L L   M M M M   M o M M
staff-helper-revoke                  POST  A       L L L   M o M M   M M M M
staff-helper-revoke                  POST  B       L L L   M M M M   M o M M
staff-helper                         GET   -       L L L   M M M o   M M M o
staff-helper                         POST  -       L L L   M M M R   M M M R
staff-helper-entries                 GET   -       L L L   M M M o   M M M o
staff-helper-register                GET   A       L L L   M M M o   M M M M
staff-helper-register                GET   B       L L L   M M M M   M M M o
staff-helper-register                POST  A       L L L   M M M R   M M M M
staff-helper-register                POST  B       L L L   M M M M   M M M R
admin:booking_window_change          GET   A       L L L   o o o D   M M M D
admin:booking_window_change          GET   B       L L L   M M M D   o o o D
admin:booking_slot_change            GET   A       L L L   o o o D   M M M D
admin:booking_slot_change            GET   B       L L L   M M M D   o o o D
admin:booking_entry_change           GET   A       L L L   o o o D   M M M D
admin:booking_entry_change           GET   B       L L L   M M M D   o o o D
admin:booking_appointment_change     GET   A       L L L   o o o D   M M M D
admin:booking_appointment_change     GET   B       L L L   M M M D   o o o D
"""

# Routes the matrix leaves out, each with its reason. Everything else must be in the matrix.
SKIPPED_NAMESPACES = {
    "admin": "the Django admin is for superusers and tested by tests/booking/test_admin.py; "
    "the matrix opens the change pages of both prefectures' objects (rows admin:...)",
}
SKIPPED_PREFIXES = {
    settings.STATIC_URL.lstrip("/"): "static files (served under DEBUG only): no data, no access",
}


@dataclass
class Row:
    route: str
    method: str
    target: str
    decisions: dict  # persona -> decision


def _rows() -> list[Row]:
    rows = []
    for line in MATRIX.strip().splitlines():
        route, method, target, *cells = line.split()
        decisions = {
            persona: DECISIONS[cell] for persona, cell in zip(PERSONAS, cells, strict=True)
        }
        rows.append(Row(route, method, target, decisions))
    return rows


ROWS = _rows()


# --- The world: two prefectures, their draws and objects, two applicants -----------------------


@dataclass
class Side:
    """One prefecture's objects, each a target of the routes (A: Isère, B: Rhône)."""

    life: Timeline
    open_window: Window
    contactless: Appointment  # a counter registration's offer: an entry with no contact
    partner_key: PartnerKey
    flag: DuplicateFlag
    staff_request: StaffRequest
    desk_site: Site  # a site whose code the other prefecture has not: its day list is a 404 there
    membership: HelperMembership  # the helper's, approved with its organisation
    spare: HelperMembership  # another helper's, in another association: the one revoked
    helped: Entry  # an entry the helper registered


@dataclass
class World:
    sides: dict
    own: Appointment  # the first applicant's offer, in Isère
    sessions: dict  # persona -> session data


def _staff(prefecture) -> dict:
    username = prefecture.code.lower() + ".{}"
    return {
        role: StaffFactory(username=username.format(role), role=role, prefecture=prefecture)
        for role in STAFF_ROLES
    }


def _side(prefecture, staff, applicant, second_applicant) -> Side:
    life = Timeline(prefecture, entries=6, slots=3)
    life.run_all()
    offers = list(Appointment.objects.filter(entry__window=life.window).order_by("entry__rank"))
    Entry.objects.filter(pk=offers[0].entry_id).update(contact=applicant)
    Entry.objects.filter(pk=offers[1].entry_id).update(contact=second_applicant)
    services_offers.accept_offer(appointment_id=offers[1].pk)
    open_window = WindowFactory(prefecture=prefecture, state=WindowState.OPEN)
    flagged, similar = EntryFactory.create_batch(2, window=open_window)
    partner_key, _key = partners.create_partner_key(
        prefecture=prefecture, name="Association", actor=staff[Role.SUPERVISOR]
    )
    supervisor, helper = staff[Role.SUPERVISOR], staff[Role.HELPER]
    organisation = Organisation.objects.create(prefecture=prefecture, name="Association")
    membership = HelperMembership.objects.create(user=helper, organisation=organisation)
    helpers.approve_organisation(organisation_id=organisation.pk, actor=supervisor)
    helpers.approve_helper(membership_id=membership.pk, actor=supervisor)
    spare = HelperMembership.objects.create(
        user=StaffFactory(username=f"{prefecture.code.lower()}.spare", role=Role.HELPER,
                          prefecture=prefecture),
        organisation=Organisation.objects.create(prefecture=prefecture, name="Association bis"),
    )  # fmt: skip
    helpers.approve_organisation(organisation_id=spare.organisation_id, actor=supervisor)
    helpers.approve_helper(membership_id=spare.pk, actor=supervisor)
    return Side(
        desk_site=SiteFactory(prefecture=prefecture, code=f"{prefecture.code}_DESK"),
        membership=membership,
        spare=spare,
        helped=EntryFactory(window=open_window, channel=Channel.HELPER, registered_by=helper),
        life=life,
        open_window=open_window,
        contactless=offers[2],
        partner_key=partner_key,
        flag=DuplicateFlag.objects.create(entry=flagged, similar_person=similar.person),
        staff_request=StaffRequest.objects.create(
            window=open_window,
            kind=RequestKind.URGENCY,
            entry=flagged,
            reason="Permit lost",
            requested_by=staff[Role.AGENT],
        ),
    )


def _staff_session(user) -> dict:
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    return dict(session.items())


@pytest.fixture
def world(db) -> World:
    applicant = ContactFactory(user=User.objects.create_user(username="applicant.one"))
    second = ContactFactory(user=User.objects.create_user(username="applicant.two"))
    sessions = {
        "anonymous": {},
        "applicant": {APPLICANT_KEY: applicant.pk},
        "second_applicant": {APPLICANT_KEY: second.pk},
    }
    sides = {}
    for target, code, name in (("A", "ISERE", "Isère"), ("B", "RHONE", "Rhône")):
        prefecture = PrefectureFactory(code=code, name=f"Préfecture {name}")
        staff = _staff(prefecture)
        sides[target] = _side(prefecture, staff, applicant, second)
        for role, user in staff.items():
            sessions[f"{code.lower()}.{role}"] = _staff_session(user)
    own = Appointment.objects.get(entry__window=sides["A"].life.window, entry__contact=applicant)
    health.record_heartbeat(health.WORKER)  # a worker ran lately: /readyz answers ok
    return World(sides=sides, own=own, sessions=sessions)


# --- Each route's arguments for a target --------------------------------------------------------


def _appointment(world: World, target: str) -> Appointment:
    return world.own if target == "own" else world.sides[target].contactless


def _entry(world: World, target: str) -> Entry:
    return _appointment(world, target).entry


def _on_side(pick):
    """kwargs taken from the target prefecture's objects."""
    return lambda world, target, method: pick(world.sides[target])


def _convocation(world: World, target: str, method: str) -> dict:
    # "conf": the second applicant's confirmed appointment in Isère, the only one with a
    # convocation; "own" (an offer not yet confirmed) and "A" (someone else's) have none.
    if target == "conf":
        confirmed = Appointment.objects.get(
            entry__window=world.sides["A"].life.window, state=AppointmentState.CONFIRMED
        )
        return {"pk": confirmed.pk}
    return {"pk": _appointment(world, target).pk}


def _offer_link(world: World, target: str, method: str) -> dict:
    # The signed link is the capability (like a receipt's token): whoever holds it reaches
    # the offer, and nobody reaches anything with a forged one ("bad"). Asked on "decline"
    # with GET (a page that asks first) and with POST only forged: no request of the matrix
    # changes an appointment.
    if target == "bad":
        token = "1.AAAAAAAAAAAA"
    else:
        token = offer_links.make(Appointment.objects.get(**_convocation(world, target, method)))
    return {"token": token}


def _offer_answer(world: World, target: str, method: str) -> dict:
    return {**_offer_link(world, target, method), "action": "decline"}


def _offer_action(world: World, target: str, method: str) -> dict:
    # GET shows what accepting the offer would do; POST asks to cancel it, which an offer
    # cannot be (409 for its owner): no request of the matrix changes an appointment.
    action = "accept" if method == "GET" else "cancel"
    return {"pk": _appointment(world, target).pk, "action": action}


DRAW = _on_side(lambda side: {"code": side.life.window.code})
FLAG = _on_side(lambda side: {"pk": side.flag.pk})
# The day of the contactless offer (an offer, not yet confirmed: marking it absent is refused).
DAY = _on_side(
    lambda side: {
        "site_code": side.desk_site.code,
        "day": side.contactless.slot.starts_at.astimezone(PARIS).date().isoformat(),
    }
)

KWARGS = {
    "register": _on_side(lambda side: {"code": side.open_window.code}),
    "receipt": lambda world, target, method: {
        "token": receipts.receipt_token(_entry(world, target))
    },
    "receipt-short": lambda world, target, method: {"entry_id": _entry(world, target).entry_id},
    "my-appointment": _offer_action,
    # The first applicant's own entry is in a published window: its withdrawal is refused
    # (a redirect to "my entries" with the reason), so no request of the matrix changes it.
    "my-entry-withdraw": lambda world, target, method: {"pk": _entry(world, target).pk},
    "my-convocation": _convocation,
    "my-convocation-pdf": _convocation,
    "my-appointment-ics": _convocation,
    "offer": _offer_link,
    "offer-answer": _offer_answer,
    "offer-convocation-pdf": _offer_link,
    "offer-ics": _offer_link,
    "api-appointment-action": _offer_action,
    "draw-detail": DRAW,
    "draw-short": DRAW,
    "draw-kit": DRAW,
    "draw-file": _on_side(
        lambda side: {"code": side.life.window.code, "name": "announcement.json"}
    ),
    "api-draw": DRAW,
    "staff-draw": DRAW,
    "staff-draw-party": DRAW,
    "staff-draw-reveal": DRAW,
    "staff-draw-beacon": DRAW,
    "staff-draw-review": DRAW,
    "api-draw-parties": DRAW,
    "api-draw-reveals": DRAW,
    "api-draw-beacon": DRAW,
    "api-draw-review": DRAW,
    "staff-request-decide": _on_side(lambda side: {"pk": side.staff_request.pk}),
    "staff-partner-key-revoke": _on_side(lambda side: {"pk": side.partner_key.pk}),
    "staff-duplicates": _on_side(lambda side: {"code": side.open_window.code}),
    "staff-window-capacity": _on_side(lambda side: {"code": side.open_window.code}),
    "staff-duplicate": FLAG,
    "staff-day": DAY,
    "staff-day-export": DAY,
    "staff-appointment-absent": _on_side(lambda side: {"pk": side.contactless.pk}),
    "staff-appointment-answer": _on_side(lambda side: {"pk": side.contactless.pk}),
    # An offer, not confirmed: no convocation yet, for anybody (tests/lottery/test_staff_offers).
    "staff-appointment-convocation": _on_side(lambda side: {"pk": side.contactless.pk}),
    "staff-duplicate-keep-both": FLAG,
    "staff-duplicate-withdraw": FLAG,
    "staff-counter-register": _on_side(lambda side: {"code": side.open_window.code}),
    "staff-entry-receipt": _on_side(lambda side: {"entry_id": side.helped.entry_id}),
    "staff-organisation-approve": _on_side(lambda side: {"pk": side.membership.organisation_id}),
    "staff-helper-approve": _on_side(lambda side: {"pk": side.membership.pk}),
    "staff-organisation-revoke": _on_side(lambda side: {"pk": side.spare.organisation_id}),
    "staff-helper-revoke": _on_side(lambda side: {"pk": side.spare.pk}),
    "staff-helper-register": _on_side(lambda side: {"code": side.open_window.code}),
    "admin:booking_window_change": _on_side(lambda side: {"object_id": side.life.window.pk}),
    "admin:booking_slot_change": _on_side(lambda side: {"object_id": side.contactless.slot_id}),
    "admin:booking_entry_change": _on_side(lambda side: {"object_id": side.contactless.entry_id}),
    "admin:booking_appointment_change": _on_side(lambda side: {"object_id": side.contactless.pk}),
}


def _url(world: World, row: Row) -> str:
    kwargs = {} if row.target == "-" else KWARGS[row.route](world, row.target, row.method)
    return reverse(row.route, kwargs=kwargs)


# --- Asking and reading the answer --------------------------------------------------------------


def _client(session_data: dict) -> Client:
    """A client with its own copy of the persona's session: a request that ends its session
    (log out, an expired code) leaves the next request untouched."""
    client = Client(raise_request_exception=False)
    if session_data:
        store = importlib.import_module(settings.SESSION_ENGINE).SessionStore()
        store.update(session_data)
        store.create()
        client.cookies[settings.SESSION_COOKIE_NAME] = store.session_key
    return client


def _ask(client: Client, row: Row, url: str):
    if row.method == "GET":
        response = client.get(url)
        # Read to the end, as a browser would: the test client finishes a streamed request
        # (the kit) only then.
        if response.streaming:
            response.getvalue()
        return response
    if url.startswith("/api/"):
        return client.post(url, {}, content_type="application/json")
    return client.post(url, {})


LOGIN_PAGES = ("/admin/login/", "/my/login/")


def _decision(response) -> str:
    status = response.status_code
    if 300 <= status < 400:
        location = response["Location"]
        if location.startswith(LOGIN_PAGES):
            return "login"
        # The admin answers an object outside the user's queryset by a redirect to its index.
        return "missing" if location == reverse("admin:index") else "ok"
    if 200 <= status < 300:
        return "ok"
    named = {401: "denied", 403: "denied", 404: "missing", 400: "reached", 409: "reached",
             422: "reached"}  # fmt: skip
    return named.get(status, f"status {status}")


def _differences(observed: dict, expected: dict) -> str:
    """Every cell that differs, one a line (pytest would cut a long dict comparison short)."""
    lines = [
        "{:18} {} {} {}: expected {}, observed {}".format(*key, expected[key], value)
        for key, value in observed.items()
        if value != expected[key]
    ]
    return "\n".join([f"{len(lines)} decisions differ from the matrix:", *lines])


def test_every_persona_reaches_exactly_what_the_matrix_says(world):
    expected = {
        (persona, row.route, row.method, row.target): decision
        for row in ROWS
        for persona, decision in row.decisions.items()
    }
    appointments_before = dict(Appointment.objects.values_list("pk", "state"))

    observed = {}
    for row in ROWS:
        url = _url(world, row)
        for persona in PERSONAS:
            response = _ask(_client(world.sessions[persona]), row, url)
            observed[(persona, row.route, row.method, row.target)] = _decision(response)

    assert observed == expected, _differences(observed, expected)
    assert dict(Appointment.objects.values_list("pk", "state")) == appointments_before


# --- Every route is in the matrix ---------------------------------------------------------------


def _patterns(patterns, prefix="", namespace=""):
    """(name, route) of every URL pattern, included ones too; "namespace:name" in a namespace."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = pattern.namespace or namespace
            yield from _patterns(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            name = pattern.name or prefix + str(pattern.pattern)
            yield (f"{namespace}:{name}" if namespace else name), prefix + str(pattern.pattern)


def _skipped(name: str, route: str) -> bool:
    namespace = name.partition(":")[0] if ":" in name else ""
    return namespace in SKIPPED_NAMESPACES or route.lstrip("^").startswith(tuple(SKIPPED_PREFIXES))


def test_every_route_is_in_the_matrix_or_skipped_with_a_reason():
    routes = dict(_patterns(get_resolver().url_patterns))
    in_matrix = {row.route for row in ROWS}

    unlisted = {name for name, route in routes.items() if not _skipped(name, route)} - in_matrix
    unknown = in_matrix - set(routes)

    assert (sorted(unlisted), sorted(unknown)) == ([], [])


def test_matrix_lets_only_the_owner_act_on_an_offer():
    offer_rows = [row for row in ROWS if row.route in ("my-appointment", "api-appointment-action")]

    let_through = sorted(
        (persona, row.route, row.method, row.target)
        for row in offer_rows
        for persona, decision in row.decisions.items()
        if decision not in ("missing", "denied", "login")
        and (persona, row.target) != ("applicant", "own")
    )

    assert let_through == []


# --- The regression: staff acting on a counter registration's offer -----------------------------


def test_staff_cannot_answer_the_offer_of_an_entry_without_contact(world):
    offer = world.sides["A"].contactless  # entered at a counter: no contact, no applicant login
    rhone_agent = _client(world.sessions["rhone.agent"])
    isere_supervisor = _client(world.sessions["isere.supervisor"])

    answers = [
        client.post(reverse(name, args=[offer.pk, action]))
        for client in (rhone_agent, isere_supervisor)
        for name in ("api-appointment-action", "my-appointment")
        for action in ("accept", "decline")
    ]

    assert [_decision(answer) for answer in answers] == ["denied", "denied", "login", "login"] * 2
    assert Appointment.objects.get(pk=offer.pk).state == AppointmentState.OFFERED
    assert Entry.objects.get(pk=offer.entry_id).contact_id is None


def test_staff_of_another_prefecture_cannot_reveal_for_its_operator(world):
    # The reveal service lets anyone reveal for an operator party (its secret is the proof) and
    # records a refused try in the draw's audit trail: the API must stop a foreign caller first.
    window = world.sides["A"].life.window
    rhone_auditor = _client(world.sessions["rhone.auditor"])

    response = rhone_auditor.post(
        reverse("api-draw-reveals", args=[window.code]),
        {"party_id": window.prefecture.code, "secret": "00" * 32},
        content_type="application/json",
    )

    reveals = AuditEvent.objects.filter(action__startswith="draw.reveal", actor__role=Role.AUDITOR)
    assert (response.status_code, list(reveals.values_list("action", flat=True))) == (404, [])
