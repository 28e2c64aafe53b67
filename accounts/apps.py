from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Comptes et journal d'audit"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in, user_login_failed

        from accounts import middleware, staff_login

        # Login events, not domain changes: the staff session's clocks and the failure alert.
        user_logged_in.connect(middleware.stamp_staff_session, dispatch_uid="staff-session")
        user_login_failed.connect(
            staff_login.alert_on_repeated_failures, dispatch_uid="staff-login-alert"
        )
