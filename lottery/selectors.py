"""Read queries of the public draw pages, shared by the HTML pages, the open-data JSON and the
Atom feed. Everything returned here is public: figures, dates, digests and random entry_ids,
never a person."""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from booking.models import Prefecture, Window
from lottery import kit
from lottery.blobs import BLOB_FIELDS
from lottery.models import Draw, DrawEvent, DrawState

# An events.log line is "seq,utc_time,event,slot_id,entry_id,prev" (lottery.fairdraw.events).
# A regex, not `contains`: SQLite's LIKE ignores case, and a slot could be coded "OFFER".
OFFER_LINE = r"^[0-9]+,[^,]+,offer,"


def public_draws(*, prefecture: str | None = None, year: int | None = None):
    """Every draw, latest closing first; `year` is the closing date's year in Europe/Paris."""
    draws = Draw.objects.select_related("window__prefecture").order_by("-window__closes_at", "-pk")
    if prefecture:
        draws = draws.filter(window__prefecture__code=prefecture)
    if year:
        draws = draws.filter(window__closes_at__year=year)
    return draws


def draw_prefectures() -> list[tuple[str, str]]:
    """(code, name) of the prefectures that have at least one draw, by name."""
    return list(
        Prefecture.objects.filter(windows__draw__isnull=False)
        .distinct()
        .order_by("name")
        .values_list("code", "name")
    )


def draw_years() -> list[int]:
    """Closing years (Europe/Paris) of the windows that have a draw, latest first."""
    moments = Window.objects.filter(draw__isnull=False).datetimes(
        "closes_at", "year", order="DESC", tzinfo=timezone.get_default_timezone()
    )
    return [moment.year for moment in moments]


def reoffer_count(draw: Draw) -> int:
    """Slots offered again since publication: the "offer" lines of events.log (the draw's own
    offers are results.csv, not log lines)."""
    return draw.events.filter(line__regex=OFFER_LINE).count()


def entries_by_tier(draw: Draw) -> dict[int, int]:
    """Frozen entries per tier (0 = urgent), from the counts stored at the draw."""
    tiers = Counter()
    for group in (draw.counts or {}).get("groups", []):
        tiers[group["tier"]] += group["entries"]
    return dict(sorted(tiers.items()))


def draw_summary(draw: Draw) -> dict:
    """The figures of one draw as open data (the list and the record share them)."""
    window, counts = draw.window, draw.counts or {}
    return {
        "code": window.code,
        "title": window.title,
        "prefecture": {"code": window.prefecture.code, "name": window.prefecture.name},
        "state": draw.state,
        "registration_opens": kit.utc(window.opens_at),
        "registration_closes": kit.utc(window.closes_at),
        "frozen_at": kit.utc(draw.frozen_at),
        "drawn_at": kit.utc(draw.drawn_at),
        "published_at": kit.utc(draw.published_at),
        # Known from the freeze on; None before (the lists are still open).
        "entries": counts.get("entries"),
        "slots": counts.get("slots"),
        "given": counts.get("given"),
        "entries_by_tier": {str(tier): n for tier, n in entries_by_tier(draw).items()} or None,
        "results_digest": draw.results_digest or None,
    }


@dataclass(frozen=True)
class FeedItem:
    """One announcement of the Atom feed: a publication, or a slot offered again."""

    key: str
    draw: Draw
    moment: datetime
    reoffer: DrawEvent | None = None


def feed_items(*, limit: int = 50) -> list[FeedItem]:
    """The latest publications and re-offers, newest first (two queries)."""
    published = public_draws().filter(state=DrawState.PUBLISHED, published_at__isnull=False)
    items = [
        FeedItem(f"{draw.window.code}:published", draw, draw.published_at)
        for draw in published.order_by("-published_at")[:limit]
    ]
    offers = (
        DrawEvent.objects.filter(line__regex=OFFER_LINE)
        .select_related("draw__window__prefecture")
        # select_related loads every column of the draw, its files too (up to about 110 MB).
        .defer(*(f"draw__{name}" for name in (*BLOB_FIELDS, "results_index")))
        .order_by("-created_at", "-pk")[:limit]
    )
    items += [
        FeedItem(f"{event.draw.window.code}:event:{event.seq}", event.draw, event.created_at, event)
        for event in offers
    ]
    return sorted(items, key=lambda item: item.moment, reverse=True)[:limit]
