"""Atom feed of the public draws: each publication and each slot offered again since, so that
watchers (associations, journalists) are told without polling the pages."""

from django.contrib.syndication.views import Feed
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.utils.translation import gettext_lazy as _

from lottery import selectors
from lottery.selectors import FeedItem


class DrawFeed(Feed):
    feed_type = Atom1Feed
    title = _("Fairslot: draws published and slots offered again")
    subtitle = _(
        "Each draw's publication, then each slot freed by a refusal, a lapse or a cancellation "
        "and offered to the next waiting entry in draw order."
    )

    def link(self):
        return reverse("draw-list")

    def items(self):
        return selectors.feed_items()

    def item_title(self, item: FeedItem):
        window = item.draw.window
        if item.reoffer is None:
            return _("Results published: %(prefecture)s — %(title)s") % {
                "prefecture": window.prefecture.name,
                "title": window.title,
            }
        return _("Slot %(slot)s offered again: %(prefecture)s — %(title)s") % {
            "slot": item.reoffer.line.split(",")[3],
            "prefecture": window.prefecture.name,
            "title": window.title,
        }

    def item_description(self, item: FeedItem):
        if item.reoffer is None:
            counts = item.draw.counts or {}
            return _("%(entries)s entries, %(slots)s slots. Results digest: %(digest)s.") % {
                "entries": counts.get("entries", 0),
                "slots": counts.get("slots", 0),
                "digest": item.draw.results_digest,
            }
        fields = item.reoffer.line.split(",")
        return _(
            "Line %(seq)s of events.log: slot %(slot)s is offered to entry %(entry)s, the "
            "best-ranked waiting entry that fits it."
        ) % {"seq": fields[0], "slot": fields[3], "entry": fields[4]}

    def item_link(self, item: FeedItem):
        return reverse("draw-detail", args=[item.draw.window.code])

    def item_guid(self, item: FeedItem):
        # Atom ids must be absolute and unique; a draw's link is shared by all its items.
        return f"urn:fairslot:draw:{item.key}"

    item_guid_is_permalink = False

    def item_pubdate(self, item: FeedItem):
        return item.moment

    def item_updateddate(self, item: FeedItem):
        return item.moment
