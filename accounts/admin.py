"""Back-office accounts. The admin site itself requires password + TOTP (config/urls.py)."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts.admin_scoping import READ_ROLES, AuditedAdmin, prefecture_filter
from accounts.models import AuditEvent, User


@admin.register(User)
class FairslotUserAdmin(AuditedAdmin, UserAdmin):
    fieldsets = (*UserAdmin.fieldsets, ("Fairslot", {"fields": ("role", "prefecture")}))
    list_display = ["username", "role", "prefecture", "is_active"]
    list_filter = ["role", "is_active"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(**prefecture_filter(request.user, "prefecture"))

    def has_module_permission(self, request):
        return request.user.is_superuser or getattr(request.user, "is_supervisor", False)

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser or getattr(request.user, "is_supervisor", False)

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request):
        return request.user.is_superuser


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["at", "action", "actor_label", "target_type", "target_id"]
    list_filter = ["action"]

    def get_queryset(self, request):
        return (
            super().get_queryset(request).filter(**prefecture_filter(request.user, "prefecture_id"))
        )

    def has_module_permission(self, request):
        return request.user.is_superuser or getattr(request.user, "role", "") in READ_ROLES

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
