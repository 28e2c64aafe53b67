import secrets

from django.contrib.sessions.models import Session
from django.http import JsonResponse
from django.urls import include, path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def baseline(request):
    """The floor: a bare Django view inserting one row (same stack, no business logic)."""
    # A session row: a table with no chain or trigger (the audit log is now a hash chain).
    row = Session.objects.create(
        session_key=secrets.token_hex(16), session_data="", expire_date=timezone.now()
    )
    return JsonResponse({"id": row.pk}, status=201)


urlpatterns = [path("bench/baseline/", baseline), path("", include("config.urls"))]
