"""Public draw pages: no login, no JavaScript, nothing that identifies a person (entries appear
by their random entry_id only). The operator's secret is never read here."""

from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render

from lottery import beacon, blobs, kit, services_offers
from lottery.models import BeaconMode, BeaconSource, Draw, DrawState

RESULTS_PER_PAGE = 100
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
    return render(request, "lottery/draw_list.html", {"draws": draws[:100]})


def draw_detail(request, code: str):
    draw = _draw(code)
    published = draw.state == DrawState.PUBLISHED
    page = None
    if published:
        (results,) = blobs.read(draw, "results_csv")
        lines = results.decode("ascii").splitlines()[1:]
        page = Paginator(lines, RESULTS_PER_PAGE).get_page(request.GET.get("page"))
        page.rows = [line.split(",") for line in page.object_list]
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
        },
    )


def draw_kit(request, code: str):
    draw = _draw(code)
    response = HttpResponse(kit.kit_zip(draw), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{draw.window.code}.zip"'
    return response


def draw_file(request, code: str, name: str):
    draw = _draw(code)
    if name not in PUBLIC_FILES or name not in kit.kit_file_names(draw):
        raise Http404
    files = kit.kit_files(draw, only={name})
    return HttpResponse(files[name], content_type=f"{PUBLIC_FILES[name]}; charset=us-ascii")
