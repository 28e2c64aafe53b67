from django.urls import path

from booking import (
    own_data_views,
    staff_capacity,
    staff_desk,
    staff_registration,
    staff_views,
    views,
)

urlpatterns = [
    path("", views.home, name="home"),
    path("accessibilite/", views.accessibility, name="footer-accessibility-status"),
    path("altcha/challenge/", views.altcha_challenge, name="altcha-challenge"),
    path("register/verify/", views.register_verify, name="register-verify"),
    path("register/resend/", views.register_resend, name="register-resend"),
    path("register/<str:code>/", views.register, name="register"),
    path("receipt/check/", views.receipt_check, name="receipt-check"),
    path("receipt/<str:token>/", views.receipt, name="receipt"),
    path("r/<str:entry_id>/", views.receipt_short, name="receipt-short"),
    path("my/login/", views.my_login, name="my-login"),
    path("my/code/", views.my_code, name="my-code"),
    path("my/logout/", views.my_logout, name="my-logout"),
    path("my/data/", own_data_views.my_data, name="my-data"),
    path("my/data.json", own_data_views.my_data_json, name="my-data-json"),
    path(
        "my/entries/<int:pk>/withdraw/",
        own_data_views.my_entry_withdraw,
        name="my-entry-withdraw",
    ),
    path("staff/partner-keys/", staff_views.partner_keys, name="staff-partner-keys"),
    path("staff/windows/<str:code>/", staff_capacity.window_capacity, name="staff-window-capacity"),
    path(
        "staff/partner-keys/<int:pk>/revoke/",
        staff_views.partner_key_revoke,
        name="staff-partner-key-revoke",
    ),
    path(
        "staff/windows/<str:code>/duplicates/",
        staff_views.duplicate_queue,
        name="staff-duplicates",
    ),
    path("staff/duplicates/<int:pk>/", staff_views.duplicate_detail, name="staff-duplicate"),
    path(
        "staff/duplicates/<int:pk>/keep-both/",
        staff_views.duplicate_keep_both,
        name="staff-duplicate-keep-both",
    ),
    path(
        "staff/duplicates/<int:pk>/withdraw/",
        staff_views.duplicate_withdraw,
        name="staff-duplicate-withdraw",
    ),
    path(
        "staff/windows/<str:code>/register/",
        staff_registration.counter_register,
        name="staff-counter-register",
    ),
    path(
        "staff/entries/<str:entry_id>/receipt/",
        staff_registration.entry_receipt,
        name="staff-entry-receipt",
    ),
    path("staff/organisations/", staff_registration.organisations, name="staff-organisations"),
    path(
        "staff/organisations/<int:pk>/approve/",
        staff_registration.organisation_approve,
        name="staff-organisation-approve",
    ),
    path(
        "staff/helpers/<int:pk>/approve/",
        staff_registration.helper_approve,
        name="staff-helper-approve",
    ),
    path(
        "staff/organisations/<int:pk>/revoke/",
        staff_registration.organisation_revoke,
        name="staff-organisation-revoke",
    ),
    path(
        "staff/helpers/<int:pk>/revoke/",
        staff_registration.helper_revoke,
        name="staff-helper-revoke",
    ),
    path("staff/helper/", staff_registration.helper_home, name="staff-helper"),
    path("staff/helper/entries/", staff_registration.helper_entries, name="staff-helper-entries"),
    path(
        "staff/helper/register/<str:code>/",
        staff_registration.helper_register,
        name="staff-helper-register",
    ),
    path("staff/day/", staff_desk.day_pick, name="staff-day-pick"),
    path("staff/sites/<str:site_code>/day/<str:day>/", staff_desk.day, name="staff-day"),
    path(
        "staff/sites/<str:site_code>/day/<str:day>/export.csv",
        staff_desk.day_export,
        name="staff-day-export",
    ),
    path("staff/checkin/", staff_desk.checkin_page, name="staff-checkin"),
    path("staff/checkin/present/", staff_desk.checkin_present, name="staff-checkin-present"),
]
