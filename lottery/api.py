"""Draw API for parties and supervisors: commit, reveal, paste a beacon round, review.

Staff only, logged in with a verified second factor; another prefecture's draw answers 404
before anything else is read (accounts.access.staff_object_or_404), and the services still check
the role and the prefecture. Serializers validate shape only; services decide.
"""

from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import staff_object_or_404
from booking.duplicates import review_counts
from booking.models import Appointment
from booking.views import APPLICANT_KEY
from config.errors import DomainError
from lottery import four_eyes, kit, selectors, services, services_offers, services_reveal
from lottery.models import BeaconSource, Draw
from lottery.views import draw_or_404


class IsVerifiedStaff(BasePermission):
    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.is_verified())


class PartyInput(serializers.Serializer):
    party_id = serializers.CharField(max_length=32)
    commitment = serializers.CharField(max_length=64, min_length=64)


class RevealInput(serializers.Serializer):
    party_id = serializers.CharField(max_length=32)
    secret = serializers.CharField(max_length=64, min_length=64)


class BeaconInput(serializers.Serializer):
    round = serializers.IntegerField(min_value=1)
    signature = serializers.CharField(max_length=96, min_length=96)
    randomness = serializers.CharField(max_length=64, min_length=64, required=False)


class ReviewInput(serializers.Serializer):
    approve = serializers.BooleanField()
    note = serializers.CharField(max_length=2000)


class StatusOutput(serializers.Serializer):
    status = serializers.CharField()


class AppointmentOutput(serializers.Serializer):
    appointment = serializers.IntegerField()
    state = serializers.CharField()


class DrawAPIView(APIView):
    permission_classes = [IsVerifiedStaff]
    serializer = None

    def post(self, request, code: str):
        # The draw first: another prefecture's caller learns nothing, not even what is invalid.
        draw = staff_object_or_404(
            request.user,
            Draw.objects.all(),
            prefecture_path="window__prefecture",
            window__code=code,
        )
        data = self.serializer(data=request.data)
        data.is_valid(raise_exception=True)
        self.act(draw.window_id, request.user, data.validated_data)
        return Response({"status": "ok"}, status=status.HTTP_200_OK)


class PartyCreate(DrawAPIView):
    serializer = PartyInput

    @extend_schema(request=PartyInput, responses={200: StatusOutput})
    def post(self, request, code):
        return super().post(request, code)

    def act(self, window_id, user, data):
        services.register_party(window_id=window_id, actor=user, **data)


class RevealCreate(DrawAPIView):
    serializer = RevealInput

    @extend_schema(request=RevealInput, responses={200: StatusOutput})
    def post(self, request, code):
        return super().post(request, code)

    def act(self, window_id, user, data):
        services_reveal.reveal_secret(window_id=window_id, actor=user, **data)


class BeaconPaste(DrawAPIView):
    """A supervisor pastes round R's JSON when the machine has no internet (verified)."""

    serializer = BeaconInput

    @extend_schema(request=BeaconInput, responses={200: StatusOutput})
    def post(self, request, code):
        return super().post(request, code)

    def act(self, window_id, user, data):
        if data["round"] != Draw.objects.get(window_id=window_id).beacon_round:
            raise DomainError("beacon_round", _("This is not the announced round."))
        services_reveal.record_beacon(
            window_id=window_id,
            signature=data["signature"],
            randomness=data.get("randomness"),
            source=BeaconSource.PASTE,
            actor=user,
        )


class ReviewCreate(DrawAPIView):
    serializer = ReviewInput

    @extend_schema(request=ReviewInput, responses={200: StatusOutput})
    def post(self, request, code):
        return super().post(request, code)

    def act(self, window_id, user, data):
        services.review_draw(window_id=window_id, actor=user, **data)


class DrawRecord(APIView):
    """The public record: announcement and, when published so far, freeze digests, reveals,
    beacon, seed and results digest (the files themselves are on the public page), and the
    figures of the page's summary (counts only, no person)."""

    authentication_classes = []
    permission_classes = []

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, code: str):
        draw = draw_or_404(code)
        return Response(
            {
                "state": draw.state,
                "announcement": kit.announcement(draw),
                "entries_digest": draw.entries_digest or None,
                "slots_digest": draw.slots_digest or None,
                "frozen_at": kit.utc(draw.frozen_at),
                "seed": draw.seed or None,
                "results_digest": draw.results_digest or None,
                "checks": draw.checks or None,
                "figures": {
                    **selectors.draw_summary(draw),
                    "groups": (draw.counts or {}).get("groups"),
                    "reoffers": selectors.reoffer_count(draw),
                    "four_eyes": four_eyes.counts(draw.window_id),
                    "duplicate_reviews": review_counts([draw.window_id])[draw.window_id],
                },
            }
        )


class DrawListQuery(serializers.Serializer):
    prefecture = serializers.CharField(max_length=32, required=False)
    year = serializers.IntegerField(min_value=2000, max_value=9999, required=False)
    page = serializers.IntegerField(min_value=1, required=False)


class DrawList(APIView):
    """Open data: every draw's figures, latest closing first, filtered like the public list."""

    authentication_classes = []
    permission_classes = []
    per_page = 100

    @extend_schema(
        operation_id="draws_list", parameters=[DrawListQuery], responses={200: OpenApiTypes.OBJECT}
    )
    def get(self, request):
        query = DrawListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        filters = {k: v for k, v in query.validated_data.items() if k != "page"}
        page = Paginator(selectors.public_draws(**filters), self.per_page).get_page(
            query.validated_data.get("page")
        )
        return Response(
            {
                "count": page.paginator.count,
                "page": page.number,
                "pages": page.paginator.num_pages,
                "draws": [self.item(request, draw) for draw in page],
            }
        )

    @staticmethod
    def item(request, draw: Draw) -> dict:
        code = draw.window.code
        return {
            **selectors.draw_summary(draw),
            "page": request.build_absolute_uri(reverse("draw-detail", args=[code])),
            "record": request.build_absolute_uri(reverse("api-draw", args=[code])),
        }


# --- Applicants: answer an offer, cancel an appointment ---------------------------------------


class _Applicant:
    """The applicant logged in by one-time code (booking's session), as a DRF user."""

    is_authenticated = True

    def __init__(self, contact_id: int):
        self.contact_id = contact_id


class ApplicantSession(SessionAuthentication):
    """booking's applicant session, with DRF's CSRF check (the session is a cookie)."""

    def authenticate(self, request):
        contact_id = request.session.get(APPLICANT_KEY)  # DRF's Request passes it through
        if not contact_id:
            return None
        self.enforce_csrf(request)
        return _Applicant(contact_id), None


class ApplicantSessionScheme(OpenApiAuthenticationExtension):
    """Documents the applicant's session cookie in the OpenAPI schema."""

    target_class = ApplicantSession
    name = "applicantSession"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}


class AppointmentAction(APIView):
    """An applicant answers their own offer. Only the applicant's session is accepted: a staff
    account is not an applicant (staff cancellations are requests a second supervisor approves,
    lottery.four_eyes), and an appointment that is not the caller's answers 404."""

    authentication_classes = [ApplicantSession]
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={200: AppointmentOutput})
    def post(self, request, pk: int, action: str):
        if action not in services_offers.APPLICANT_ACTIONS:
            raise Http404
        appointment = get_object_or_404(
            Appointment, pk=pk, entry__contact_id=request.user.contact_id
        )
        service, _state = services_offers.APPLICANT_ACTIONS[action]
        service(appointment_id=appointment.pk)
        appointment.refresh_from_db()
        return Response({"appointment": appointment.pk, "state": appointment.state})
