"""The back office (Django admin behind password + TOTP), scoped to the agent's prefecture.

State changes go through services: window state is read-only here and moves by an action that
calls the same service as the beat tick.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext_lazy as _

from accounts.admin_scoping import PrefectureScopedAdmin
from booking import services, slots
from booking.models import (
    Appointment,
    Entry,
    Procedure,
    Site,
    Slot,
    Window,
    WindowState,
)
from config.errors import Conflict


def _own_prefecture_on_save(request, obj):
    if not request.user.is_superuser:
        obj.prefecture_id = request.user.prefecture_id


@admin.register(Site)
class SiteAdmin(PrefectureScopedAdmin):
    list_display = ["code", "name", "prefecture"]
    list_select_related = ["prefecture"]

    def get_exclude(self, request, obj=None):
        return [] if request.user.is_superuser else ["prefecture"]

    def save_model(self, request, obj, form, change):
        _own_prefecture_on_save(request, obj)
        super().save_model(request, obj, form, change)


@admin.register(Procedure)
class ProcedureAdmin(SiteAdmin):
    list_display = ["code", "name", "is_renewal", "prefecture"]


@admin.register(Window)
class WindowAdmin(PrefectureScopedAdmin):
    list_display = ["code", "title", "state", "opens_at", "closes_at", "prefecture"]
    list_filter = ["state"]
    list_select_related = ["prefecture"]
    readonly_fields = ["state", "state_changed_at", "frozen_at"]
    filter_horizontal = ["procedures"]
    actions = ["advance_if_due"]

    def get_exclude(self, request, obj=None):
        return [] if request.user.is_superuser else ["prefecture"]

    def save_model(self, request, obj, form, change):
        _own_prefecture_on_save(request, obj)
        super().save_model(request, obj, form, change)

    def has_change_permission(self, request, obj=None):
        # Once open, a window's schedule is public: nobody edits it in the back office.
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or obj.state == WindowState.SCHEDULED)

    @admin.action(description=_("Advance the selected windows whose time has come"))
    def advance_if_due(self, request, queryset):
        moved = 0
        for window in queryset:
            for to_state in (WindowState.OPEN, WindowState.CLOSED):
                moved += services.advance_window(
                    window_id=window.pk, to_state=to_state, actor=request.user
                )
        self.message_user(request, _("%(n)d transition(s) made.") % {"n": moved}, messages.INFO)


def _frozen(obj) -> bool:
    """Whether this slot or entry belongs to a frozen window: the back office then shows it
    read-only (the published slots.csv and entries.csv hold it)."""
    return obj is not None and slots.is_frozen(obj.window_id)


class SlotAdminForm(forms.ModelForm):
    class Meta:
        model = Slot
        fields = ["window", "site", "procedure", "code", "starts_at"]

    def clean_window(self):
        # The services' rule, so that the agent reads the refusal beside the field (a slot
        # cannot be added to, or moved into, a frozen window).
        window = self.cleaned_data["window"]
        try:
            slots.check_not_frozen(window.pk)
        except Conflict as refusal:
            raise ValidationError(refusal.message, code=refusal.code) from None
        return window


@admin.register(Slot)
class SlotAdmin(PrefectureScopedAdmin):
    """Slots change through booking.slots only, and never once their window is frozen."""

    prefecture_path = "window__prefecture"
    form = SlotAdminForm
    list_display = ["code", "starts_at", "site", "procedure", "window"]
    list_select_related = ["site", "procedure", "window"]
    list_filter = ["window"]

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not _frozen(obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not _frozen(obj)

    def save_model(self, request, obj, form, change):
        values = {name: getattr(obj, name) for name in slots.SLOT_FIELDS}
        if change:
            slots.change_slot(slot_id=obj.pk, actor=request.user, **values)
        else:
            obj.pk = slots.create_slot(actor=request.user, **values).pk

    def delete_model(self, request, obj):
        slots.delete_slot(slot_id=obj.pk, actor=request.user)

    def delete_queryset(self, request, queryset):
        for slot_id in queryset.values_list("pk", flat=True):
            slots.delete_slot(slot_id=slot_id, actor=request.user)


@admin.register(Entry)
class EntryAdmin(PrefectureScopedAdmin):
    """Entries are read-only in the back office: they change through services only."""

    prefecture_path = "window__prefecture"
    list_display = [
        "entry_id",
        "window",
        "procedure",
        "status",
        "tier",
        "weight",
        "channel",
        "rank",
        "possible_duplicate",
    ]
    list_select_related = ["window", "procedure"]
    list_filter = ["status", "channel"]
    exclude = ["person", "contact"]
    readonly_fields = [f.name for f in Entry._meta.fields if f.name not in ("person", "contact")]
    write_roles = set()

    def get_queryset(self, request):
        # A second key (names + birth date + nationality) flags likely duplicates for agents to
        # look at; it refuses nothing, since two people may share them.
        twins = Entry.objects.filter(
            window=OuterRef("window"),
            person__likeness_hash=OuterRef("person__likeness_hash"),
            active=True,
        ).exclude(pk=OuterRef("pk"))
        return super().get_queryset(request).annotate(has_twin=Exists(twins))

    @admin.display(boolean=True, description=_("Possible duplicate"), ordering="has_twin")
    def possible_duplicate(self, entry) -> bool:
        return entry.has_twin

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not _frozen(obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not _frozen(obj)


@admin.register(Appointment)
class AppointmentAdmin(PrefectureScopedAdmin):
    prefecture_path = "slot__window__prefecture"
    list_display = ["entry", "slot", "state", "offered_at"]
    list_select_related = ["entry", "slot"]
    readonly_fields = ["entry", "slot", "state", "offered_at", "respond_by", "state_changed_at"]
    write_roles = set()
