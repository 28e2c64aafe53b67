"""Public pages (server-rendered, DSFR, no JavaScript needed). Views validate input, call one
service and render; domain errors are shown beside the field they concern, in the user's
language. Pages holding personal data are never cached."""

from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts import otp, pow
from accounts.crypto import blind_index
from accounts.normalize import NormalizationError, normalize_contact
from booking import receipts, registration, selectors
from booking.forms import CodeForm, ContactLoginForm, ReceiptCheckForm, RegistrationForm
from booking.models import Entry
from booking.web import client_ip
from config.errors import DomainError

PENDING_KEY = "pending_registration"
APPLICANT_KEY = "applicant_contact"
LOGIN_CONTACT_KEY = "login_contact"


def home(request):
    return render(
        request,
        "booking/home.html",
        {
            "open_windows": selectors.open_windows(),
            "recent_windows": selectors.recent_windows(),
        },
    )


def accessibility(request):
    return render(request, "booking/accessibility.html")


def altcha_challenge(request):
    response = JsonResponse(pow.create_challenge())
    response["Cache-Control"] = "no-store"
    return response


def _show_error(form, exc: DomainError) -> None:
    field = getattr(exc, "field", None)
    form.add_error(field if field in form.fields else None, _refusal_with_wait(exc))


@never_cache
@require_http_methods(["GET", "POST"])
def register(request, code):
    window = get_object_or_404(selectors.open_windows(), code=code)
    form = RegistrationForm(request.POST or None, window=window)
    if request.method == "POST" and form.is_valid():
        try:
            pending = registration.start_registration(
                window=window,
                data=form.to_input(),
                client_ip=client_ip(request),
                proof_ok=pow.verify_solution(form.cleaned_data["altcha"]),
                language=get_language(),
            )
        except DomainError as exc:
            _show_error(form, exc)
        else:
            request.session[PENDING_KEY] = pending.token
            return redirect("register-verify")
    return render(request, "booking/register.html", {"window": window, "form": form})


@never_cache
@require_http_methods(["GET", "POST"])
def register_verify(request):
    token = request.session.get(PENDING_KEY)
    if not token:
        return redirect("home")
    try:
        pending = registration.get_pending(token)
    except DomainError:
        request.session.pop(PENDING_KEY, None)
        return render(request, "booking/expired.html", status=410)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            registration.verify_registration(pending=pending, code=form.cleaned_data["code"])
            entry = registration.submit_registration(pending=pending, language=get_language())
        except DomainError as exc:
            _show_error(form, exc)
        else:
            # A new session key at login, so that a session id planted before it (fixation)
            # gives nothing.
            request.session.cycle_key()
            request.session.pop(PENDING_KEY, None)
            request.session[APPLICANT_KEY] = pending.contact_id
            return redirect("receipt", token=receipts.receipt_token(entry))
    return render(request, "booking/verify.html", {"form": form, "pending": pending})


@never_cache
@require_http_methods(["POST"])
def register_resend(request):
    token = request.session.get(PENDING_KEY)
    if not token:
        return redirect("home")
    try:
        pending = registration.get_pending(token)
        otp.send_code(
            contact=pending.contact,
            client_ip=client_ip(request),
            proof_ok=pow.verify_solution(request.POST.get("altcha")),
            language=get_language(),
        )
    except DomainError as exc:
        messages.error(request, _refusal_with_wait(exc))
    else:
        messages.success(request, _("A new code is on its way."))
    return redirect("register-verify")


def _refusal_with_wait(exc: DomainError) -> str:
    """A refusal's message, with when to try again if it says."""
    if not exc.retry_after:
        return str(exc.message)
    minutes = max(1, -(-int(exc.retry_after) // 60))
    wait = ngettext(
        "You can ask again in %(minutes)d minute.",
        "You can ask again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}
    return f"{exc.message} {wait}"


@never_cache
def receipt(request, token):
    try:
        data = receipts.check_receipt(token)
    except DomainError:
        return render(request, "booking/receipt_invalid.html", status=404)
    entry = (
        Entry.objects.select_related("window", "window__prefecture", "procedure")
        .filter(entry_id=data["entry_id"])
        .first()
    )
    return render(request, "booking/receipt.html", {"data": data, "entry": entry, "token": token})


@never_cache
def receipt_short(request, entry_id):
    """The SMS's short link. An entry id is a public pseudonym (it is in entries.csv), and the
    receipt holds no identity, so this reveals nothing the draw files do not."""
    entry = get_object_or_404(
        Entry.objects.select_related("window", "procedure"), entry_id=entry_id
    )
    return redirect("receipt", token=receipts.receipt_token(entry))


@never_cache
@require_http_methods(["GET", "POST"])
def receipt_check(request):
    form = ReceiptCheckForm(request.POST or None)
    result = None
    if request.method == "POST" and form.is_valid():
        try:
            result = receipts.check_receipt(form.cleaned_data["receipt"])
        except DomainError as exc:
            _show_error(form, exc)
    return render(request, "booking/receipt_check.html", {"form": form, "result": result})


@never_cache
@require_http_methods(["GET", "POST"])
def my_login(request):
    """Applicants log in with their phone or e-mail and a code (same limits as registration).
    An unknown contact gets the same answer as a known one. "I already have a code" sends
    nothing: a code that reached the phone can always be used, whatever the sending caps."""
    form = ContactLoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        kind = form.cleaned_data["contact_kind"]
        try:
            value = normalize_contact(kind, form.cleaned_data["contact"])
            if "have_code" not in request.POST:
                otp.start_login(
                    kind=kind,
                    value=value,
                    client_ip=client_ip(request),
                    proof_ok=pow.verify_solution(form.cleaned_data["altcha"]),
                    language=get_language(),
                )
        except NormalizationError as exc:
            form.add_error("contact", str(exc.message))
        except DomainError as exc:
            _show_error(form, exc)
        else:
            # The blind index, not the address: no personal data in the session.
            request.session[LOGIN_CONTACT_KEY] = blind_index("contact", value)
            return redirect("my-code")
    return render(request, "booking/my_login.html", {"form": form})


@never_cache
@require_http_methods(["GET", "POST"])
def my_code(request):
    value_hash = request.session.get(LOGIN_CONTACT_KEY)
    if not value_hash:
        return redirect("my-login")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            contact = otp.login_with_code(
                value_hash=value_hash, code=form.cleaned_data["code"], language=get_language()
            )
        except DomainError as exc:
            _show_error(form, exc)
        else:
            request.session.cycle_key()
            request.session.pop(LOGIN_CONTACT_KEY, None)
            request.session[APPLICANT_KEY] = contact.pk
            return redirect("my-entries")
    return render(request, "booking/verify.html", {"form": form, "login": True})


@never_cache
@require_http_methods(["POST"])
def my_logout(request):
    request.session.flush()
    return redirect("home")
