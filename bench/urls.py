from django.http import JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from accounts.models import AuditEvent


@csrf_exempt
def baseline(request):
    """The floor: a bare Django view inserting one row (same stack, no business logic)."""
    event = AuditEvent.objects.create(action="bench.baseline")
    return JsonResponse({"id": event.pk}, status=201)


urlpatterns = [path("bench/baseline/", baseline), path("", include("config.urls"))]
