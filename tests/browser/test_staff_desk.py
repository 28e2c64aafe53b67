"""The agent's desk in a real browser (Debian's Chromium, driven by Playwright), without
JavaScript: a slot template previewed before anything is saved, the demo applicant checked in
from the code typed off their convocation, and axe-core finding no serious or critical
violation on the staff pages."""

from pathlib import Path

import pytest
from django.core.management import call_command
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from booking.checkin_token import make_token
from booking.models import Appointment, AppointmentState, Slot, Window, WindowState
from lottery.management.commands.load_demo_today import today, window_code
from tests.browser.axe import serious_violations
from tests.browser.test_draw_pages import chromium  # noqa: F401 - the shared browser fixture
from tests.conftest import CHROMIUM

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESK = {"width": 1280, "height": 900}
AGENT = "agent.isere"


@pytest.fixture
def desk(live_server):
    call_command("load_demo", stdout=None)
    call_command("load_demo_offers", stdout=None)
    call_command("load_demo_today", stdout=None)
    return live_server.url


def _log_in(page, base: str, next_path: str) -> None:
    device = TOTPDevice.objects.get(user__username=AGENT)
    code = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token()
    page.goto(f"{base}/admin/login/?next={next_path}")
    page.fill("input[name=username]", AGENT)
    page.fill("input[name=password]", "demo-fairslot-2026")
    page.fill("input[name=otp_token]", f"{code:06d}")
    page.click("#login-form [type=submit], form [type=submit][value], form input[type=submit]")
    page.wait_for_load_state()


@pytest.fixture
def agent_page(chromium, desk):  # noqa: F811
    context = chromium.new_context(viewport=DESK, java_script_enabled=False, locale="fr-FR")
    page = context.new_page()
    _log_in(page, desk, "/staff/")
    yield page
    context.close()


def test_a_slot_template_is_previewed_before_anything_is_saved(desk, agent_page):
    window = Window.objects.filter(prefecture__code="ISERE", state=WindowState.OPEN).first()
    before = Slot.objects.filter(window=window).count()

    agent_page.goto(f"{desk}/staff/windows/{window.code}/")
    agent_page.fill("input[name=first_day]", "2031-01-06")
    agent_page.fill("input[name=last_day]", "2031-01-10")
    for day in "12345":
        agent_page.check(f"input[name=weekdays][value='{day}']")
    agent_page.fill("input[name=periods]", "09:00-12:00")
    agent_page.fill("input[name=minutes]", "30")
    agent_page.fill("input[name=desks]", "2")
    agent_page.click("button[name=preview]")

    # 6 starts a morning, 2 desks, 5 days: 60, and nothing saved yet.
    assert agent_page.locator("h3").inner_text().endswith("60 créneaux")
    assert Slot.objects.filter(window=window).count() == before
    agent_page.click("button[name=create]")
    assert Slot.objects.filter(window=window).count() == before + 60


def test_the_demo_applicant_is_checked_in_from_the_typed_code(desk, agent_page):
    appointment = Appointment.objects.get(
        slot__window__code=window_code(today()), entry__contact__isnull=False
    )
    typed = make_token(appointment).lower().replace("-", " ")  # as read aloud, in any case

    agent_page.goto(f"{desk}/staff/checkin/")
    agent_page.fill("input[name=desk]", "G3")
    agent_page.fill("input[name=code]", typed)
    agent_page.get_by_role("button", name="Lire le code").click()
    shown = agent_page.locator("main").inner_text()
    agent_page.locator("form[action*='present'] button[type=submit]").click()

    assert "Démo" in shown and "G3" in shown
    appointment.refresh_from_db()
    assert (appointment.state, appointment.checkin_desk) == (AppointmentState.CHECKED_IN, "G3")


def _qr_video(code: str, path: Path) -> Path:
    """A Y4M video (what Chromium's fake camera plays) of the QR code of `code` on white."""
    from io import BytesIO

    import segno
    from PIL import Image

    png = BytesIO()
    segno.make(code, error="m").save(png, kind="png", scale=10, border=4)
    qr = Image.open(BytesIO(png.getvalue())).convert("L")
    frame = Image.new("L", (640, 480), 255)
    frame.paste(qr, ((640 - qr.width) // 2, (480 - qr.height) // 2))
    ycbcr = frame.convert("YCbCr")
    y, cb, cr = ycbcr.split()
    half = (320, 240)
    planes = y.tobytes() + cb.resize(half).tobytes() + cr.resize(half).tobytes()
    header = b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\n"
    path.write_bytes(header + b"FRAME\n" + planes)
    return path


# Chromium has no BarcodeDetector on Linux: this stand-in looks at the camera's frame and, when it
# shows a QR code (dark and light modules, not a blank or black picture), reports the code the
# test printed on it. The camera, the page's script and the form are real; the decoding is not.
STAND_IN_DETECTOR = """
window.BarcodeDetector = class {
  static getSupportedFormats() { return Promise.resolve(["qr_code"]); }
  detect(video) {
    const canvas = document.createElement("canvas");
    canvas.width = video.videoWidth; canvas.height = video.videoHeight;
    const context = canvas.getContext("2d");
    context.drawImage(video, 0, 0);
    const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
    let dark = 0;
    for (let i = 0; i < pixels.length; i += 4) if (pixels[i] < 128) dark++;
    const share = dark / (pixels.length / 4);
    return Promise.resolve(share > 0.05 && share < 0.5 ? [{rawValue: "%s"}] : []);
  }
};
"""


def test_the_demo_applicant_is_checked_in_from_the_scanned_qr_code(desk, chromium, tmp_path):  # noqa: F811
    appointment = Appointment.objects.get(
        slot__window__code=window_code(today()), entry__contact__isnull=False
    )
    code = make_token(appointment)
    video = _qr_video(code, tmp_path / "qr.y4m")
    # A second browser of the same Playwright, whose fake camera plays the video.
    browser = chromium.browser_type.launch(
        executable_path=str(CHROMIUM),
        args=[
            "--no-sandbox",
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        ],
    )
    try:
        context = browser.new_context(viewport=DESK, locale="fr-FR", permissions=["camera"])
        context.add_init_script(STAND_IN_DETECTOR % code)
        page = context.new_page()
        _log_in(page, desk, "/staff/checkin/")
        page.goto(f"{desk}/staff/checkin/")
        page.fill("input[name=desk]", "G4")
        page.locator("[data-scan-start]").click()  # shown: the script found a QR reader
        present = page.locator("form[action*='present'] button[type=submit]")
        present.wait_for()  # the form was sent with the scanned code
        shown = page.locator("main").inner_text()
        present.click()
        page.wait_for_load_state()
    finally:
        browser.close()

    assert "Démo" in shown and "G4" in shown
    appointment.refresh_from_db()
    assert (appointment.state, appointment.checkin_desk) == (AppointmentState.CHECKED_IN, "G4")


def test_staff_pages_have_no_serious_accessibility_violation(desk, chromium):  # noqa: F811
    window = Window.objects.filter(prefecture__code="ISERE", state=WindowState.OPEN).first()
    pages = ["/staff/", f"/staff/windows/{window.code}/", "/staff/checkin/", "/staff/day/"]
    # JavaScript only to run axe; this context alone bypasses the CSP that refuses it.
    context = chromium.new_context(viewport=DESK, locale="fr-FR", bypass_csp=True)
    page = context.new_page()
    _log_in(page, desk, "/staff/")
    found = {}
    for path in pages:
        page.goto(desk + path)
        found[path] = serious_violations(page)
    context.close()

    assert found == {path: [] for path in pages}
