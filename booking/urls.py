from django.urls import path

from booking import staff_views, views

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
    path("staff/partner-keys/", staff_views.partner_keys, name="staff-partner-keys"),
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
]
