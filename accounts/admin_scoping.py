"""Back-office isolation: a staff user sees and changes only their own prefecture's objects.

Booking models are named by label, as strings: accounts imports no booking code.

Superusers see everything (they are created by operators, not prefectures). Everyone else is
filtered by the path from the model to its prefecture, and foreign-key choices are filtered the
same way, so an agent cannot even pick another prefecture's site for a slot.
"""

from django.contrib import admin

from accounts import audit
from accounts.models import Role

READ_ROLES = {Role.AGENT, Role.SUPERVISOR, Role.AUDITOR}
WRITE_ROLES = {Role.AGENT, Role.SUPERVISOR}


def prefecture_filter(user, path: str) -> dict:
    if user.is_superuser:
        return {}
    return {path: user.prefecture_id} if user.prefecture_id else {f"{path}__in": []}


class AuditedAdmin(admin.ModelAdmin):
    """Every change made in the admin writes an audit row. The admin calls these three hooks
    for each addition, change and deletion, inside the transaction of its add, change and
    delete views: one place for every model. The row names the fields changed, not their
    values (they may be personal)."""

    def log_addition(self, request, obj, message):
        self._audit(request, "add", obj, message)
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        self._audit(request, "change", obj, message)
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        for obj in queryset:
            self._audit(request, "delete", obj, "")
        return super().log_deletions(request, queryset)

    def _audit(self, request, verb: str, obj, message) -> None:
        audit.record(
            f"admin.{verb}",
            actor=request.user,
            target=obj,
            prefecture_id=request.user.prefecture_id,
            model=obj._meta.label,
            changes=message,
        )


class PrefectureScopedAdmin(AuditedAdmin):
    prefecture_path = "prefecture"
    write_roles = WRITE_ROLES

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset.filter(**prefecture_filter(request.user, self.prefecture_path))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        return _scoped_choices(field, db_field, request.user)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        return _scoped_choices(field, db_field, request.user)

    def _role(self, request) -> str:
        return getattr(request.user, "role", "")

    def has_module_permission(self, request):
        return request.user.is_superuser or self._role(request) in READ_ROLES

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser or self._role(request) in READ_ROLES

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser or self._role(request) in self.write_roles

    def has_add_permission(self, request):
        return request.user.is_superuser or self._role(request) in self.write_roles

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


def _scoped_choices(field, db_field, user):
    """Limit a form field's choices to the user's prefecture."""
    path = _PATHS.get(db_field.related_model._meta.label)
    if path is not None and field is not None and not user.is_superuser:
        field.queryset = field.queryset.filter(**prefecture_filter(user, path))
    return field


_PATHS = {
    "booking.Prefecture": "pk",
    "booking.Site": "prefecture",
    "booking.Procedure": "prefecture",
    "booking.Window": "prefecture",
    "booking.Slot": "window__prefecture",
    "booking.Entry": "window__prefecture",
}
