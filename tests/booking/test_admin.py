"""The back office: password + TOTP enforced, and each agent confined to their prefecture."""

from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from booking.models import Window
from tests.factories import SiteFactory, WindowFactory


def _current_code(device) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():06d}"


def test_admin_login_with_password_only_is_refused(client, supervisor):
    TOTPDevice.objects.create(user=supervisor, name="phone", confirmed=True)

    response = client.post(
        "/admin/login/",
        {"username": supervisor.username, "password": "correct horse battery staple"},
    )

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_admin_login_with_password_and_totp_succeeds(client, supervisor):
    device = TOTPDevice.objects.create(user=supervisor, name="phone", confirmed=True)

    response = client.post(
        "/admin/login/",
        {
            "username": supervisor.username,
            "password": "correct horse battery staple",
            "otp_device": device.persistent_id,
            "otp_token": _current_code(device),
            "next": "/admin/",
        },
    )

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(supervisor.pk)
    assert client.get("/admin/").status_code == 200


def test_admin_session_without_otp_is_sent_to_login(client, agent):
    client.force_login(agent)

    response = client.get("/admin/booking/window/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_agent_of_another_prefecture_sees_nothing_of_this_one(login_otp, window, other_agent):
    own = WindowFactory(prefecture=other_agent.prefecture, title="Rhône window")
    client = login_otp(other_agent)

    listing = client.get("/admin/booking/window/")
    detail = client.get(f"/admin/booking/window/{window.pk}/change/")

    assert list(listing.context["cl"].queryset) == [own]
    assert window.title.encode() not in listing.content
    assert detail.status_code == 302  # "does not exist" redirect, no data shown
    assert Window.objects.get(pk=window.pk).title == window.title


def test_agent_cannot_pick_another_prefectures_site(login_otp, window, other_agent):
    foreign_site = SiteFactory(prefecture=window.prefecture)
    client = login_otp(other_agent)

    form = client.get("/admin/booking/slot/add/").context["adminform"].form

    assert foreign_site not in form.fields["site"].queryset
    assert window not in form.fields["window"].queryset


def test_auditor_reads_but_cannot_change(login_otp, window, auditor):
    client = login_otp(auditor)

    listing = client.get("/admin/booking/window/")
    add = client.get("/admin/booking/window/add/")

    assert list(listing.context["cl"].queryset) == [window]
    assert add.status_code == 403


def test_window_list_query_count_is_flat(
    login_otp, prefecture, supervisor, django_assert_max_num_queries
):
    client = login_otp(supervisor)
    WindowFactory(prefecture=prefecture)
    with django_assert_max_num_queries(12) as one:
        client.get("/admin/booking/window/")
    WindowFactory.create_batch(3, prefecture=prefecture)
    with django_assert_max_num_queries(len(one.captured_queries)):
        client.get("/admin/booking/window/")


def test_entry_list_flags_likely_duplicates(login_otp, window, agent):
    from tests.factories import EntryFactory, PersonFactory

    first = EntryFactory(window=window, person=PersonFactory(likeness_hash="same"))
    second = EntryFactory(window=window, person=PersonFactory(likeness_hash="same"))
    alone = EntryFactory(window=window)
    client = login_otp(agent)

    rows = {e.pk: e.has_twin for e in client.get("/admin/booking/entry/").context["cl"].result_list}

    assert rows == {first.pk: True, second.pk: True, alone.pk: False}
