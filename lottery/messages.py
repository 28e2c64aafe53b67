"""The texts of the messages after the draw, in the active language (the caller activates the
person's: `Contact.language`). Pure functions: no database, no outbox (lottery.notifications
writes them).

Every SMS fits one part where its language allows it: French and English are folded into
GSM-7 and kept to 160 characters; the other six languages are UCS-2 (70 characters a part) and
are kept to UCS2_MAX_PARTS parts (accounts.sms_text). A long site name is shortened, or replaced
by its code, to fit. Each decision message carries the CRPA L311-3-1 mention (a decision taken
by an algorithm, and where its rules are). Nothing identifies the person beyond the pseudonym
of their entry: no name, no identity number.
"""

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.utils import translation
from django.utils.translation import gettext as _

from accounts.models import ContactKind
from accounts.sms_text import GSM7_SINGLE, UCS2_PART, for_sms, is_gsm7

PARIS = ZoneInfo("Europe/Paris")
UCS2_MAX_PARTS = 3
MIN_SITE_CHARS = 8


@dataclass(frozen=True)
class Offer:
    """What a message says about one offered (or confirmed) slot."""

    entry_id: str
    starts_at: datetime
    site: str
    site_code: str
    link: str  # the signed offer page (lottery.offer_links), or "My entries"
    respond_by: datetime | None = None
    address: str = ""


@dataclass(frozen=True)
class NotDrawn:
    """What a message says to an entry that got no slot."""

    entry_id: str
    rank: int | None
    next_weight: int
    next_draw: date | None
    window_url: str
    rules_url: str
    rules_short_url: str


def pseudonym(entry_id: str) -> str:
    return f"E-{entry_id[:8].upper()}"


def _when(moment: datetime) -> str:
    return moment.astimezone(PARIS).strftime("%d/%m %H:%M")


def _day(moment: datetime) -> str:
    return moment.astimezone(PARIS).strftime("%d/%m/%Y")


def _time(moment: datetime) -> str:
    return moment.astimezone(PARIS).strftime("%H:%M")


def _mention(url: str) -> str:
    return _("Decision by algorithm, rules: %(url)s") % {"url": url}


# --- Fitting an SMS ----------------------------------------------------------------------------


def _size(body: str) -> int:
    """Characters (GSM-7) or UTF-16 code units (UCS-2) of an SMS body."""
    return len(body) if is_gsm7(body) else len(body.encode("utf-16-le")) // 2


def _limit(body: str) -> int:
    return GSM7_SINGLE if is_gsm7(body) else UCS2_PART * UCS2_MAX_PARTS


def _fit(render, name: str, code: str) -> str:
    """render(site) as sent by SMS in the active language, with the site's name shortened (or
    replaced by its code) when the message would not fit."""
    language = translation.get_language() or "fr"
    name = for_sms(name, language)
    body = for_sms(render(name), language)
    excess = _size(body) - _limit(body)
    if excess > 0:
        room = len(name) - excess
        body = for_sms(render(name[:room].rstrip() if room >= MIN_SITE_CHARS else code), language)
    return body


def _sms(text: str) -> str:
    return for_sms(text, translation.get_language() or "fr")


# --- The messages ------------------------------------------------------------------------------


def selected(kind: str, offer: Offer, rules_url: str) -> str:
    """The draw gave this entry a slot: answer it through the link."""
    if kind == ContactKind.PHONE:
        return _fit(
            lambda site: (
                _(
                    "Fairslot %(entry)s: appointment %(when)s, %(site)s. Decision by algorithm. "
                    "Answer and rules: %(url)s"
                )
                % {
                    "entry": pseudonym(offer.entry_id),
                    "when": _when(offer.starts_at),
                    "site": site,
                    "url": offer.link,
                }
            ),
            offer.site,
            offer.site_code,
        )
    values = {
        "entry": offer.entry_id,
        "date": _day(offer.starts_at),
        "time": _time(offer.starts_at),
        "site": offer.site,
        "url": offer.link,
    }
    if offer.respond_by is None:
        text = _(
            "Your entry %(entry)s was drawn: an appointment is offered to you on %(date)s at "
            "%(time)s, at %(site)s.\n\n"
            "You must confirm it, or it will be offered to someone else: %(url)s"
        )
    else:
        values["deadline"] = offer.respond_by.astimezone(PARIS).strftime("%d/%m/%Y %H:%M")
        text = _(
            "Your entry %(entry)s was drawn: an appointment is offered to you on %(date)s at "
            "%(time)s, at %(site)s.\n\n"
            "Confirm it before %(deadline)s, or it will be offered to someone else: %(url)s"
        )
    return f"{text % values}\n\n{_mention(rules_url)}\n"


def not_drawn(kind: str, outcome: NotDrawn) -> str:
    """The draw gave this entry no slot: its rank, its weight in the next draw and when."""
    values = {
        "entry": pseudonym(outcome.entry_id) if kind == ContactKind.PHONE else outcome.entry_id,
        "rank": outcome.rank or "-",
        "weight": outcome.next_weight,
        "date": outcome.next_draw.strftime("%d/%m") if outcome.next_draw else "",
    }
    if kind == ContactKind.PHONE:
        if outcome.next_draw:
            text = _(
                "Fairslot %(entry)s: not drawn, rank %(rank)s. Next draw %(date)s, weight "
                "%(weight)s."
            )
        else:
            text = _("Fairslot %(entry)s: not drawn, rank %(rank)s. Next draw: weight %(weight)s.")
        return _sms(f"{text % values} {_mention(outcome.rules_short_url)}")
    if outcome.next_draw:
        values["date"] = outcome.next_draw.strftime("%d/%m/%Y")
        text = _(
            "Your entry %(entry)s was not drawn this time: its rank is %(rank)s.\n\n"
            "You keep your place: you are entered in the next draw for the same procedure, on "
            "%(date)s, with weight %(weight)s (more chances). If a slot of this draw is freed, it "
            "may still be offered to you."
        )
    else:
        text = _(
            "Your entry %(entry)s was not drawn this time: its rank is %(rank)s.\n\n"
            "You keep your place: you are entered in the next draw for the same procedure, with "
            "weight %(weight)s (more chances). Its date is not set yet. If a slot of this draw is "
            "freed, it may still be offered to you."
        )
    page = _("The draw's public page: %(url)s") % {"url": outcome.window_url}
    return f"{text % values}\n\n{page}\n{_mention(outcome.rules_url)}\n"


def reoffer(kind: str, offer: Offer, rules_url: str) -> str:
    """A freed slot offered to the next on the waiting list, with its deadline."""
    deadline = offer.respond_by
    if kind != ContactKind.PHONE:
        text = _(
            "A slot of the draw has been freed and is offered to your entry %(entry)s: on "
            "%(date)s at %(time)s, at %(site)s.\n\n"
            "Confirm it before %(deadline)s, or it will be offered to the next person on the "
            "waiting list: %(url)s"
        ) % {
            "entry": offer.entry_id,
            "date": _day(offer.starts_at),
            "time": _time(offer.starts_at),
            "site": offer.site,
            "deadline": deadline.astimezone(PARIS).strftime("%d/%m/%Y %H:%M"),
            "url": offer.link,
        }
        return f"{text}\n\n{_mention(rules_url)}\n"
    return _fit(
        lambda site: (
            _("Fairslot %(entry)s: freed slot %(when)s, %(site)s. Answer by %(deadline)s: %(url)s")
            % {
                "entry": pseudonym(offer.entry_id),
                "when": _when(offer.starts_at),
                "site": site,
                "deadline": _when(deadline),
                "url": offer.link,
            }
        ),
        offer.site,
        offer.site_code,
    )


def answered(kind: str, offer: Offer, answer: str) -> str:
    """The confirmation of the person's own answer: accept, decline or cancel."""
    if answer == "accept":
        return _by_kind(
            kind,
            lambda site: (
                _(
                    "Fairslot %(entry)s: confirmed, %(when)s, %(site)s. Bring your papers. "
                    "Details: %(url)s"
                )
                % {
                    "entry": pseudonym(offer.entry_id),
                    "when": _when(offer.starts_at),
                    "site": site,
                    "url": offer.link,
                }
            ),
            offer,
        )
    if answer == "decline":
        text = _("Fairslot %(entry)s: you declined the appointment. You stay in the next draw.")
    else:
        text = _("Fairslot %(entry)s: your appointment is cancelled. You stay in the next draw.")
    return _by_kind(kind, lambda _site: text % {"entry": pseudonym(offer.entry_id)}, offer)


def reminder(kind: str, offer: Offer) -> str:
    """The reminder of a confirmed appointment, two days before and on the eve."""
    return _by_kind(
        kind,
        lambda site: (
            _(
                "Fairslot %(entry)s: reminder, appointment %(when)s, %(site)s. Bring your papers "
                "and your convocation."
            )
            % {"entry": pseudonym(offer.entry_id), "when": _when(offer.starts_at), "site": site}
        ),
        offer,
    )


def cancelled_by_prefecture(kind: str, entry_id: str, starts_at: datetime) -> str:
    text = _(
        "Fairslot E-%(entry)s: the prefecture cancelled your appointment of %(when)s. You "
        "stay on the waiting list. Questions: at the prefecture's desk."
    ) % {"entry": entry_id[:8].upper(), "when": _when(starts_at)}
    return _sms(text) if kind == ContactKind.PHONE else f"{text}\n"


def _by_kind(kind: str, render, offer: Offer) -> str:
    """An SMS fitted as `_fit` does, or the same text as an e-mail with the full site name
    and address."""
    if kind == ContactKind.PHONE:
        return _fit(render, offer.site, offer.site_code)
    site = f"{offer.site}, {offer.address}" if offer.address else offer.site
    return f"{render(site)}\n"
