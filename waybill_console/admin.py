from django.apps import apps
from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext

from waybill_console.admin_scoping import ReadOnlyScopedAdmin
from waybill_console.models import DecryptionAudit

#: why consumer data was decrypted (``reveal(purpose=…)``), as ops read it
PURPOSES = {
    "view": _("Shown on a page"),
    "receiver_edit": _("Receiver edit"),
    "print_label": _("Label printed"),
    "carrier_order": _("Sent to the carrier"),
    "hand_to_factory": _("Handed to a factory"),
    "key_rotation": _("Key rotation"),
}


@admin.register(DecryptionAudit)
class DecryptionAuditAdmin(ReadOnlyScopedAdmin):
    list_display = ["at", "shop", "user", "token_prefix", "purpose_label", "data_type", "object_pk"]
    search_fields = ["object_pk", "user__username", "token_prefix"]
    date_hierarchy = "at"
    exclude = ["purpose", "model", "fields"]
    readonly_fields = ["purpose_label", "data_type", "fields_label"]

    @admin.display(description=_("purpose"), ordering="purpose")
    def purpose_label(self, obj):
        return PURPOSES.get(obj.purpose, obj.purpose)

    @admin.display(description=_("model"), ordering="model")
    def data_type(self, obj):
        try:
            return apps.get_model(obj.model)._meta.verbose_name
        except (LookupError, ValueError):
            return obj.model

    @admin.display(description=_("fields"))
    def fields_label(self, obj):
        try:
            model = apps.get_model(obj.model)
        except (LookupError, ValueError):
            return ", ".join(obj.fields or [])
        names = []
        for name in obj.fields or []:
            try:
                names.append(str(model._meta.get_field(name).verbose_name))
            except LookupError:
                names.append(name)
        return pgettext("list separator", ", ").join(names)
