"""The applicant's "my entries" page."""

from booking.models import Entry, EntryStatus, WindowState
from tests.booking.test_registration import _fresh_cache, _register  # noqa: F401 (fixture)


def test_my_entries_hides_the_outcome_until_the_draw_is_published(client, window):
    entry = _register(window)
    Entry.objects.filter(pk=entry.pk).update(status="selected", rank=1)
    window.state = WindowState.DRAWN
    window.save()
    session = client.session
    session["applicant_contact"] = entry.contact_id
    session.save()

    drawn = client.get("/my/").content.decode()
    window.state = WindowState.PUBLISHED
    window.save()
    published = client.get("/my/").content.decode()

    selected = str(EntryStatus.SELECTED.label)  # in the page's language (French by default)
    assert selected not in drawn
    assert selected in published
