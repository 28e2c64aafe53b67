"""Public draw pages: no login, no JavaScript, nothing that identifies a person (entries appear
by their random entry_id only). The operator's secret is never read here."""

from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render

from accounts.models import PublishedAuditHead
from booking.duplicates import review_counts
from lottery import beacon, blobs, four_eyes, kit, services_offers
from lottery.models import BeaconMode, BeaconSource, Draw, DrawState
from lottery.results_pages import PER_PAGE, ResultLines
from lottery.tasks import task_build_kit

# A kit is built in the request up to this many entries (about a second), by a task above.
KIT_INLINE_ENTRIES = 20_000
KIT_BUILD_SECONDS = 600  # one build enqueued per state of the files in this time
KIT_RETRY_SECONDS = 60
PUBLIC_FILES = {
    "announcement.json": "application/json",
    "freeze.json": "application/json",
    "reveals.json": "application/json",
    "beacon.json": "application/json",
    "entries.csv": "text/csv",
    "slots.csv": "text/csv",
    "results.csv": "text/csv",
    "events.log": "text/plain",
}


def _draw(code: str) -> Draw:
    return get_object_or_404(Draw.objects.select_related("window__prefecture"), window__code=code)


def draw_list(request):
    draws = Draw.objects.select_related("window__prefecture").order_by("-window__closes_at")
    audit_heads = PublishedAuditHead.objects.all()[:14]
    return render(
        request, "lottery/draw_list.html", {"draws": draws[:100], "audit_heads": audit_heads}
    )


def draw_detail(request, code: str):
    draw = _draw(code)
    published = draw.state == DrawState.PUBLISHED
    page = None
    if published:
        page = Paginator(ResultLines(draw), PER_PAGE).get_page(request.GET.get("page"))
    parties = list(draw.parties.order_by("party_id"))
    return render(
        request,
        "lottery/draw_detail.html",
        {
            "title": draw.window.title,
            "draw": draw,
            "window": draw.window,
            "parties": parties,
            "absent": [p.party_id for p in parties if not p.revealed_at] if draw.drawn_at else [],
            "beacon_time": beacon.round_time(draw.beacon_round) if draw.beacon_round else None,
            "no_beacon": draw.beacon_mode == BeaconMode.NONE,
            "fallback": draw.beacon_source == BeaconSource.FALLBACK,
            "chain_hash": beacon.CHAIN_HASH,
            "page": page,
            "files": kit.kit_file_names(draw),
            "published": published,
            "head": services_offers.event_log_head(draw) if published else None,
            "heads": list(draw.heads.all()[:60]) if published else [],
            "duplicate_reviews": review_counts([draw.window_id])[draw.window_id],
            "four_eyes": four_eyes.counts(draw.window_id),
        },
    )


def draw_kit(request, code: str):
    """The kit as stored for the draw's current files, streamed. A small draw's kit is built
    in the request; a large one's by a task (once per state of the files, however many ask),
    and the page says to come back shortly."""
    draw = _draw(code)
    key = kit.kit_key(draw)
    stored = kit.current_kit(draw, key)
    if stored is None and (draw.counts or {}).get("entries", 0) <= KIT_INLINE_ENTRIES:
        stored = kit.store_kit(draw, key)
    if stored is None:
        if cache.add(f"kit-build:{draw.pk}:{key}", 1, timeout=KIT_BUILD_SECONDS):
            task_build_kit.delay(draw.window_id)
        response = render(
            request,
            "lottery/kit_pending.html",
            {"title": draw.window.title, "draw": draw, "window": draw.window},
            status=503,
        )
        response["Retry-After"] = str(KIT_RETRY_SECONDS)
        return response
    response = StreamingHttpResponse(
        blobs.chunks(stored, "zip", stored.size), content_type="application/zip"
    )
    response["Content-Length"] = str(stored.size)
    response["Content-Disposition"] = f'attachment; filename="{draw.window.code}.zip"'
    return response


def draw_file(request, code: str, name: str):
    draw = _draw(code)
    if name not in PUBLIC_FILES or name not in kit.kit_file_names(draw):
        raise Http404
    content_type = f"{PUBLIC_FILES[name]}; charset=us-ascii"
    if name in kit.LARGE_FILES:  # streamed, never held whole in memory
        field = kit.LARGE_FILES[name][0]
        size = blobs.size(draw, field)
        response = StreamingHttpResponse(blobs.chunks(draw, field, size), content_type=content_type)
        response["Content-Length"] = str(size)
        return response
    files = kit.kit_files(draw, only={name})
    return HttpResponse(files[name], content_type=content_type)
