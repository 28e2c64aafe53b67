from django.urls import path
from django.views.generic import RedirectView

from lottery import (
    api,
    applicant_files,
    applicant_views,
    feeds,
    offer_views,
    staff_absences,
    staff_home,
    staff_offers,
    staff_requests,
    staff_views,
    views,
)
from lottery.source_views import draw_spec

urlpatterns = [
    path("my/", applicant_views.my_entries, name="my-entries"),
    # Before my/appointments/<pk>/<action>/, which would take "convocation" for an action.
    path(
        "my/appointments/<int:pk>/convocation/",
        applicant_views.my_convocation,
        name="my-convocation",
    ),
    path(
        "my/appointments/<int:pk>/convocation.pdf",
        applicant_files.my_convocation_pdf,
        name="my-convocation-pdf",
    ),
    path(
        "my/appointments/<int:pk>/appointment.ics",
        applicant_files.my_appointment_ics,
        name="my-appointment-ics",
    ),
    path(
        "my/appointments/<int:pk>/<str:action>/",
        applicant_views.my_appointment,
        name="my-appointment",
    ),
    # The signed link of an offer's message (lottery.offer_links): short, for an SMS.
    path("o/<str:token>/", offer_views.offer, name="offer"),
    path(
        "o/<str:token>/convocation.pdf",
        offer_views.offer_convocation_pdf,
        name="offer-convocation-pdf",
    ),
    path("o/<str:token>/appointment.ics", offer_views.offer_ics, name="offer-ics"),
    path("o/<str:token>/<str:action>/", offer_views.offer_answer, name="offer-answer"),
    path("draws/", views.draw_list, name="draw-list"),
    # Before draws/<code>/, which would take "how-to-check" for a draw's code.
    path("draws/how-to-check/", views.how_to_check, name="draw-how-to-check"),
    path("draws/feed.atom", feeds.DrawFeed(), name="draw-feed"),
    path("draws/spec.md", draw_spec, name="draw-spec"),
    path("draws/<str:code>/", views.draw_detail, name="draw-detail"),
    # Short address of the public page, for the rules link in outcome SMS (160 characters).
    path("d/<str:code>", RedirectView.as_view(pattern_name="draw-detail"), name="draw-short"),
    path("draws/<str:code>/kit.zip", views.draw_kit, name="draw-kit"),
    path("draws/<str:code>/files/<str:name>", views.draw_file, name="draw-file"),
    path("staff/", staff_home.staff_home, name="staff-home"),
    path("staff/requests/", staff_requests.requests_page, name="staff-requests"),
    path(
        "staff/appointments/<int:pk>/absent/",
        staff_absences.mark_absent,
        name="staff-appointment-absent",
    ),
    path(
        "staff/appointments/<int:pk>/answer/",
        staff_offers.answer_offer,
        name="staff-appointment-answer",
    ),
    path(
        "staff/appointments/<int:pk>/convocation/",
        staff_offers.print_convocation,
        name="staff-appointment-convocation",
    ),
    path("staff/requests/<int:pk>/decide/", staff_requests.decide, name="staff-request-decide"),
    path("staff/draws/<str:code>/", staff_views.draw_staff, name="staff-draw"),
    path("staff/draws/<str:code>/parties/", staff_views.party, name="staff-draw-party"),
    path("staff/draws/<str:code>/reveals/", staff_views.reveal, name="staff-draw-reveal"),
    path("staff/draws/<str:code>/beacon/", staff_views.paste_beacon, name="staff-draw-beacon"),
    path("staff/draws/<str:code>/review/", staff_views.review, name="staff-draw-review"),
    path("api/v1/draws/", api.DrawList.as_view(), name="api-draw-list"),
    path("api/v1/draws/<str:code>/", api.DrawRecord.as_view(), name="api-draw"),
    path("api/v1/draws/<str:code>/parties/", api.PartyCreate.as_view(), name="api-draw-parties"),
    path("api/v1/draws/<str:code>/reveals/", api.RevealCreate.as_view(), name="api-draw-reveals"),
    path("api/v1/draws/<str:code>/beacon/", api.BeaconPaste.as_view(), name="api-draw-beacon"),
    path("api/v1/draws/<str:code>/review/", api.ReviewCreate.as_view(), name="api-draw-review"),
    path(
        "api/v1/appointments/<int:pk>/<str:action>/",
        api.AppointmentAction.as_view(),
        name="api-appointment-action",
    ),
]
