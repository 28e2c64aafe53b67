"""The draw task end to end on PostgreSQL: freeze (entries.csv and slots.csv from the database,
tiers and weights), then the draw (seed, engine, results, ranks and offered appointments written
with COPY + set-based UPDATE/INSERT), for N entries and M slots; the engine's own time on the
same frozen bytes is reported beside it.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fairslot_bench_draw \
    .venv/bin/python bench/draw_service.py --entries 1000000 --slots 100000

The database named in DATABASE_URL is wiped (its public schema is dropped): the script refuses
any database whose name does not end in "bench_draw", so that it never wipes the database of
another benchmark (bench/registration.py uses fairslot_bench).
"""

import argparse
import io
import os
import secrets
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _setup():
    os.environ.setdefault("SECRET_KEY", "bench-secret-key-0123456789abcdef0123456789")
    os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "Q3hF3m3lq0cVwVh2b3aM1bVf2GZsN1m2bTQ5dW9wV0E=")
    os.environ.setdefault("BLIND_INDEX_KEY", "bench-blind-index-key-0123456789abcdef0123")
    os.environ.update(
        {
            "DEBUG": "0",
            "ALLOW_CONSOLE_BACKENDS": "1",  # e-mails, if any, on the console
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "SECURE_COOKIES": "0",
            "SECURE_SSL_REDIRECT": "0",
            "ALLOWED_HOSTS": "testserver",  # the public page through Django's test client
        }
    )
    if not os.environ.get("DATABASE_URL", "").rsplit("/", 1)[-1].endswith("bench_draw"):
        sys.exit("DATABASE_URL must name a PostgreSQL database whose name ends in 'bench_draw'")
    import django

    django.setup()
    import logging

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("lottery.services_run").setLevel(logging.INFO)


def _copy(cursor, table: str, columns: list[str], rows) -> None:
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join("\\N" if v is None else str(v) for v in row) + "\n")
    buffer.seek(0)
    with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        while chunk := buffer.read(1 << 20):
            copy.write(chunk)


def _prepare(n_entries: int, n_slots: int) -> int:
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from accounts.crypto import encrypt
    from accounts.models import Person
    from booking.models import Entry, Prefecture, Procedure, Site, Slot, Window
    from lottery import services
    from lottery.models import BeaconMode

    with connection.cursor() as cursor:
        cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    call_command("migrate", verbosity=0)
    now = timezone.now()
    prefecture = Prefecture.objects.create(code="BENCH", name="Bench")
    sites = [
        Site.objects.create(prefecture=prefecture, code=f"SITE{i}", name=f"S{i}") for i in range(4)
    ]
    procedures = [
        Procedure.objects.create(prefecture=prefecture, code=c, name=c)
        for c in ("RENEWAL", "FIRST")
    ]
    window = Window.objects.create(
        prefecture=prefecture,
        code="BENCH-1",
        title="Bench",
        opens_at=now - timedelta(days=3),
        closes_at=now - timedelta(days=2),
        freeze_at=now - timedelta(days=2),
        reveal_deadline=now - timedelta(days=1),
        state="open",
    )
    window.procedures.set(procedures)
    services.announce_draw(window_id=window.pk, beacon_mode=BeaconMode.NONE)
    token = encrypt("bench")
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
    stamp = now.isoformat()
    with connection.cursor() as cursor:
        _copy(
            cursor,
            Person._meta.db_table,
            [
                "kind",
                "identity_hash",
                "likeness_hash",
                "identifier",
                "given_names",
                "family_name",
                "birth_date",
                "nationality",
                "created_at",
            ],
            (
                (
                    "foreign_number",
                    secrets.token_hex(32),
                    "x",
                    token,
                    token,
                    token,
                    token,
                    "ZZ",
                    stamp,
                )
                for _ in range(n_entries)
            ),
        )
        cursor.execute(f"SELECT min(id) FROM {Person._meta.db_table}")  # noqa: S608
        first_person = cursor.fetchone()[0]
        weekdays = ["", "", "", "3", "15", "67"]
        _copy(
            cursor,
            Entry._meta.db_table,
            [
                "window_id",
                "procedure_id",
                "person_id",
                "entry_id",
                "tier",
                "weight",
                "excluded_weekdays",
                "urgent_approved",
                "channel",
                "status",
                "created_at",
            ],
            (
                (
                    window.pk,
                    procedures[i % 2].pk,
                    first_person + i,
                    secrets.token_hex(16),
                    1,
                    1,
                    weekdays[i % len(weekdays)],
                    "t" if i % 50 == 0 else "f",
                    "web",
                    "registered",
                    (now - timedelta(days=3, seconds=-i % 86400)).isoformat(),
                )
                for i in range(n_entries)
            ),
        )
        start = window.reveal_deadline + timedelta(days=7)
        _copy(
            cursor,
            Slot._meta.db_table,
            ["window_id", "site_id", "procedure_id", "code", "starts_at"],
            (
                (
                    window.pk,
                    sites[i % 4].pk,
                    procedures[(i // 4) % 2].pk,
                    f"S{i:07d}",
                    (start + timedelta(minutes=15 * (i // 8))).isoformat(),
                )
                for i in range(n_slots)
            ),
        )
        cursor.execute("ANALYZE")
    return window.pk


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--slots", type=int, default=100_000)
    parser.add_argument(
        "--carry",
        action="store_true",
        help="then publish, open a next window and time the carry-over of the waiting entries",
    )
    parser.add_argument(
        "--lapses",
        type=int,
        default=0,
        help="then publish, let this many offers pass their deadline and time their lapses and "
        "re-offers: one by one (the first 20, the baseline) then in the tick's batches",
    )
    parser.add_argument(
        "--public",
        action="store_true",
        help="then publish and time the public page's last page of results and the kit download "
        "against reading the whole results.csv per view and building the kit per download",
    )
    args = parser.parse_args()
    _setup()
    from booking.services import tick_windows
    from lottery import clock, services, services_reveal
    from lottery.fairdraw import canonical, engine
    from lottery.models import Draw
    from lottery.services_run import compute_draw_seed, run_draw

    t = time.perf_counter()
    window_id = _prepare(args.entries, args.slots)
    print(
        f"setup (COPY {args.entries} entries, {args.slots} slots): {time.perf_counter() - t:.1f} s"
    )
    tick_windows()
    window = Draw.objects.get(window_id=window_id).window
    t = time.perf_counter()
    with clock.at(window.freeze_at + timedelta(minutes=1)):
        services.freeze_draw(window_id=window_id)
    freeze = time.perf_counter() - t
    print(f"freeze: {freeze:.1f} s", flush=True)
    with clock.at(window.freeze_at + timedelta(minutes=2)):
        services_reveal.reveal_operator_secret(window_id=window_id)
    draw = Draw.objects.select_related("window").get(window_id=window_id)
    t = time.perf_counter()
    entries = canonical.parse_entries(bytes(draw.entries_csv))
    slots = canonical.parse_slots(bytes(draw.slots_csv))
    parse = time.perf_counter() - t
    t = time.perf_counter()
    rows = engine.draw(entries, slots, compute_draw_seed(draw))
    engine_time = time.perf_counter() - t
    t = time.perf_counter()
    outcome = run_draw(window_id=window_id)
    run = time.perf_counter() - t
    draw.refresh_from_db()
    print(f"freeze (query, tiers/weights, write entries.csv/slots.csv): {freeze:.1f} s")
    print(
        f"run_draw (parse, seed, engine, checks, COPY results, ranks, appointments): {run:.1f} s"
        f" -> {outcome}, {sum(r.slot_id is not None for r in rows)} offers"
    )
    print(
        f"  of which the engine alone, same bytes: parse {parse:.1f} s + draw {engine_time:.1f} s"
    )
    print(f"freeze + draw end to end: {freeze + run:.1f} s (target 30 s)")
    print(f"results digest {draw.results_digest}")
    if args.public:
        _public(window_id)
    if args.lapses:
        _lapses(window_id, args.lapses)
    if args.carry:
        _carry(window_id)


def _public(window_id: int, views: int = 5) -> None:
    """The public page's last page of results and the kit download, each against what the page
    did before in the same process: read and split the whole results.csv per view, build the
    kit's zip per download. Peak memory of each, measured with tracemalloc."""
    import tracemalloc

    from django.core.paginator import Paginator
    from django.test import Client, override_settings

    from lottery import blobs, kit, services
    from lottery.models import Draw
    from lottery.results_pages import PER_PAGE
    from lottery.tasks import task_build_kit

    services.publish_draw(window_id=window_id)
    draw = Draw.objects.select_related("window").get(window_id=window_id)
    last = -(-draw.counts["entries"] // PER_PAGE)
    client = Client()
    # Pages render without collectstatic (the manifest storage needs it).
    plain = override_settings(
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
    )
    plain.enable()
    url = f"/draws/{draw.window.code}/"

    def old_page():
        (results,) = blobs.read(draw, "results_csv")
        lines = results.decode("ascii").splitlines()[1:]
        page = Paginator(lines, PER_PAGE).get_page(last)
        return [line.split(",") for line in page.object_list]

    def new_page():
        response = client.get(url, {"page": last})
        assert response.status_code == 200, response.status_code
        return response.content.decode()

    def download():
        response = client.get(f"{url}kit.zip")
        assert response.status_code == 200, response.status_code
        return sum(len(chunk) for chunk in response.streaming_content)

    rows, html = old_page(), new_page()
    assert rows and all(f"<code>{row[1]}</code>" in html for row in rows)  # the same rows
    t = time.perf_counter()
    task_build_kit(window_id)  # once per state of the files, in the worker
    build = time.perf_counter() - t
    for name, function in (
        ("page, whole file (before)", old_page),
        ("page, by range (after)", new_page),
        ("kit, built per download (before)", lambda: len(kit.kit_zip(draw))),
        ("kit, stored and streamed (after)", download),
    ):
        t = time.perf_counter()
        for _ in range(views):
            function()
        elapsed = (time.perf_counter() - t) / views
        tracemalloc.start()  # one more request, for its peak (tracing slows it down)
        function()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"public {name}: {elapsed * 1000:.0f} ms per request, peak {peak / 1e6:.1f} MB")
    print(f"public kit build (task, once per state of the files): {build:.1f} s")
    plain.disable()


def _lapses(window_id: int, count: int, one_by_one: int = 20) -> None:
    """Lapse `one_by_one` + `count` offers of the drawn window: the first ones one per
    transaction (each lapse and its re-offer alone, as the tick did before batches), the rest as
    the tick does now; per-offer times and their ratio, in the same run on the same data."""
    from booking.models import Appointment, AppointmentState
    from lottery import clock, services, services_offers
    from lottery.models import DrawEvent

    services.publish_draw(window_id=window_id)
    offered = Appointment.objects.filter(
        slot__window_id=window_id, state=AppointmentState.OFFERED
    ).order_by("pk")
    due = list(offered.values_list("pk", flat=True)[: one_by_one + count])
    past = clock.now() - timedelta(minutes=1)
    Appointment.objects.filter(pk__in=due).update(respond_by=past)
    t = time.perf_counter()
    for _ in range(one_by_one):
        assert services_offers.lapse_batch(window_id=window_id, limit=1) == 1
    single = (time.perf_counter() - t) / one_by_one
    t = time.perf_counter()
    lapsed = services_offers.lapse_due_offers(time_budget=24 * 3600)
    batched = time.perf_counter() - t
    events = DrawEvent.objects.filter(draw__window_id=window_id).count()
    print(
        f"lapses: one by one {single * 1000:.0f} ms per offer ({one_by_one} offers); "
        f"batched {lapsed} offers in {batched:.1f} s = {batched / lapsed * 1000:.1f} ms per offer "
        f"(batches of {services_offers.LAPSE_BATCH}); ratio {single / (batched / lapsed):.0f}x; "
        f"events.log {events} lines"
    )


def _carry(window_id: int) -> None:
    from django.db.models import Max
    from django.utils import timezone

    from booking.models import Entry, EntryStatus, Window, WindowState
    from lottery import clock, services, services_carry

    window = Window.objects.get(pk=window_id)
    services.publish_draw(window_id=window_id)
    now = timezone.now()
    following = Window.objects.create(
        prefecture=window.prefecture,
        code="BENCH-2",
        title="Bench 2",
        opens_at=now + timedelta(days=400),
        closes_at=now + timedelta(days=410),
        freeze_at=now + timedelta(days=410),
        reveal_deadline=now + timedelta(days=411),
        state=WindowState.SCHEDULED,
    )
    following.procedures.set(window.procedures.all())
    waiting = Entry.objects.filter(window=window, status=EntryStatus.WAITING).count()
    last = window.slots.aggregate(last=Max("starts_at"))["last"]
    t = time.perf_counter()
    with clock.at(last + timedelta(days=1)):
        moved = services_carry.carry_over(window_id=window_id, time_budget=24 * 3600)
    elapsed = time.perf_counter() - t
    print(
        f"carry-over: {moved} of {waiting} waiting entries moved in {elapsed:.1f} s "
        f"({moved / elapsed:.0f} entries/s, batches of {services_carry.BATCH_SIZE})"
    )


if __name__ == "__main__":
    _setup()  # main() sets up again: a no-op the second time
    from accounts import audit

    with audit.acting_as("bench_draw_service"):  # the audit rows name who ran the services
        main()
