"""Public draw pages: no login, no JavaScript, nothing that identifies a person (entries appear
by their random entry_id only). The operator's secret is never read here."""

from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext_lazy as _

from accounts.models import PublishedAuditHead
from booking.duplicates import review_counts
from lottery import beacon, blobs, four_eyes, kit, selectors, services_offers
from lottery.forms import DrawFilterForm
from lottery.models import BeaconMode, BeaconSource, Draw, DrawState
from lottery.results_pages import PER_PAGE, ResultLines
from lottery.tasks import task_build_kit

# A kit is built in the request up to this many entries (about a second), by a task above.
KIT_INLINE_ENTRIES = 20_000
KIT_BUILD_SECONDS = 600  # one build enqueued per state of the files in this time
KIT_RETRY_SECONDS = 60
DRAWS_PER_PAGE = 20
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


def draw_or_404(code: str) -> Draw:
    return get_object_or_404(Draw.objects.select_related("window__prefecture"), window__code=code)


def draw_list(request):
    form = DrawFilterForm(
        request.GET, prefectures=selectors.draw_prefectures(), years=selectors.draw_years()
    )
    form.is_valid()  # a field typed wrong is shown with its error and does not filter
    draws = selectors.public_draws(
        prefecture=form.cleaned_data.get("prefecture"), year=form.cleaned_data.get("year")
    )
    return render(
        request,
        "lottery/draw_list.html",
        {
            "title": _("Draws"),
            "form": form,
            "page": Paginator(draws, DRAWS_PER_PAGE).get_page(request.GET.get("page")),
            "audit_heads": PublishedAuditHead.objects.all()[:14],
        },
    )


def how_to_check(request):
    return render(
        request,
        "lottery/how_to_check.html",
        {"title": _("How to check a draw"), "chain_hash": beacon.CHAIN_HASH},
    )


def draw_detail(request, code: str):
    draw = draw_or_404(code)
    published = draw.state == DrawState.PUBLISHED
    page = None
    if published:
        page = Paginator(ResultLines(draw), PER_PAGE).get_page(request.GET.get("page"))
    parties = list(draw.parties.order_by("party_id"))
    tiers = selectors.entries_by_tier(draw)
    four = four_eyes.counts(draw.window_id)
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
            "four_eyes": four,
            "four_eyes_total": {
                key: sum(row[key] for row in four.values())
                for key in ("requested", "approved", "refused")
            },
            "procedures": list(draw.window.procedures.order_by("name")),
            "urgent_entries": tiers.get(0, 0),
            "other_entries": sum(n for tier, n in tiers.items() if tier != 0),
            "reoffers": selectors.reoffer_count(draw) if published else 0,
        },
    )


def draw_kit(request, code: str):
    """The kit as stored for the draw's current files, streamed. A small draw's kit is built
    in the request; a large one's by a task (once per state of the files, however many ask),
    and the page says to come back shortly."""
    draw = draw_or_404(code)
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
    draw = draw_or_404(code)
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
