"""The registration API for partner tools: the same services and rules as the web pages.

Writes are safe to retry: `start` takes an Idempotency-Key header, `submit` returns the same
entry for the same registration. Errors are JSON `{"code", "message"}`, with `"fields"` when
they concern input fields, in the request's language (config.errors.api_exception_handler).
Unknown fields are refused, never stored.
"""

from django.http import Http404
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import pow
from accounts.models import ContactKind, IdentityKind
from booking import partners, receipts, registration
from booking.forms import WEEKDAYS
from booking.models import Channel
from booking.registration import FieldError
from booking.web import client_ip
from config.parsers import JSONParser


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not declare (mass assignment: status, tier, weight, entry_id...)."""

    def validate(self, attrs):
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError(
                {name: [_("This field is not accepted.")] for name in sorted(unknown)}
            )
        return attrs


class StartInput(StrictSerializer):
    window = serializers.CharField(max_length=64)
    procedure = serializers.CharField(max_length=32)
    identity_kind = serializers.ChoiceField(choices=IdentityKind.choices)
    identifier = serializers.CharField(max_length=40)
    family_name = serializers.CharField(max_length=200)
    given_names = serializers.CharField(max_length=200)
    birth_date = serializers.DateField()
    nationality = serializers.CharField(max_length=2)
    permit_expires_on = serializers.DateField(required=False, allow_null=True)
    sites = serializers.ListField(
        child=serializers.CharField(max_length=32), required=False, max_length=20
    )
    excluded_weekdays = serializers.ListField(
        child=serializers.ChoiceField(choices=[d for d, _label in WEEKDAYS]),
        required=False,
        max_length=6,
    )
    contact_kind = serializers.ChoiceField(choices=ContactKind.choices)
    contact = serializers.CharField(max_length=254)
    proof = serializers.CharField(
        required=False,
        max_length=2000,
        help_text="ALTCHA solution (base64 JSON); see /altcha/challenge/",
    )


class TokenInput(StrictSerializer):
    token = serializers.CharField(max_length=64)


class VerifyInput(TokenInput):
    code = serializers.RegexField(r"^[0-9]{6}$")


class PendingOutput(serializers.Serializer):
    token = serializers.CharField()
    status = serializers.CharField()
    entry_id = serializers.CharField(allow_null=True)


class EntryOutput(serializers.Serializer):
    entry_id = serializers.CharField()
    pseudonym = serializers.CharField()
    window = serializers.CharField(source="window.code")
    status = serializers.CharField()
    registered_at = serializers.DateTimeField(source="created_at")
    receipt = serializers.SerializerMethodField()

    def get_receipt(self, entry) -> str:
        return receipts.receipt_token(entry)


def _pending_state(pending) -> dict:
    state = (
        "registered" if pending.entry_id else ("verified" if pending.verified_at else "code_sent")
    )
    return {
        "token": pending.token,
        "status": state,
        "entry_id": pending.entry.entry_id if pending.entry_id else None,
    }


class PublicAPIView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]


class RegistrationStart(PublicAPIView):
    @extend_schema(request=StartInput, responses={202: PendingOutput})
    def post(self, request):
        data = StartInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        # Only an unknown window is 404 here: whether it is open (by database time) and offers
        # the procedure, the service checks, and a closed window gets its own answer (409
        # window_closed), clearer to a partner tool than "not found".
        window = registration.window_by_code(fields.pop("window"))
        if window is None:
            raise Http404
        proof = fields.pop("proof", None)
        data = registration.RegistrationInput.from_answers(fields)
        key = request.headers.get("Idempotency-Key", "")[:80] or None
        earlier = key and registration.replayed_start(window=window, data=data, idempotency_key=key)
        if earlier:  # a retry: its proof was spent by the first try
            return Response(_pending_state(earlier), status=status.HTTP_202_ACCEPTED)
        # Every client proves work, unless it holds a partner key of the window's prefecture.
        partner = partners.partner_for(request.headers.get("Authorization", ""), window)
        if partner is None and not pow.verify_solution(proof):
            raise FieldError(
                "proof",
                "proof_required",
                _("Send a solved proof of work (see /altcha/challenge/), or use a partner key."),
            )
        pending = registration.start_registration(
            window=window,
            data=data,
            client_ip=client_ip(request),
            proof_ok=True,
            channel=Channel.API,
            language=get_language(),
            idempotency_key=key,
        )
        return Response(_pending_state(pending), status=status.HTTP_202_ACCEPTED)


class RegistrationStatus(PublicAPIView):
    @extend_schema(request=TokenInput, responses={200: PendingOutput})
    def post(self, request):
        data = TokenInput(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(_pending_state(registration.get_pending(data.validated_data["token"])))


class RegistrationVerify(PublicAPIView):
    @extend_schema(request=VerifyInput, responses={200: PendingOutput})
    def post(self, request):
        data = VerifyInput(data=request.data)
        data.is_valid(raise_exception=True)
        pending = registration.get_pending(data.validated_data["token"])
        registration.verify_registration(pending=pending, code=data.validated_data["code"])
        return Response(_pending_state(pending))


class RegistrationSubmit(PublicAPIView):
    @extend_schema(request=TokenInput, responses={201: EntryOutput})
    def post(self, request):
        data = TokenInput(data=request.data)
        data.is_valid(raise_exception=True)
        entry = registration.submit_registration(
            token=data.validated_data["token"], language=get_language()
        )
        return Response(EntryOutput(entry).data, status=status.HTTP_201_CREATED)
