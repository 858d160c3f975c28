"""Ops: label templates, printers, print agents (revoke) and print jobs with their documents
and attempts (retry). Actions go through the same services as the pages and the API."""

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from printing import agents, print_jobs, printers
from printing.models import (
    Connection,
    LabelTemplate,
    PrintAgent,
    PrintAttempt,
    PrintDocument,
    Printer,
    PrintJob,
)
from waybill_console.admin_scoping import ActorNameAdminMixin, ShopScopedAdmin
from waybill_console.errors import AppError
from waybill_console.tenancy import Actor


@admin.register(LabelTemplate)
class LabelTemplateAdmin(ShopScopedAdmin):
    list_display = ["name", "shop", "carrier", "size", "privacy", "is_default", "updated_at"]
    list_filter = ["carrier", "size", "privacy"]
    search_fields = ["name", "shop__name", "shop__shop_no"]
    raw_id_fields = ["shop"]


class PrinterAdminForm(forms.ModelForm):
    """Ops edit a printer under the shops' rule: a network printer only on an allowed
    address and port (the admin supplies the model and its fields)."""

    def clean(self):
        data = super().clean()
        if data.get("connection") == Connection.NETWORK and data.get("host"):
            host, port = data["host"], data.get("port") or 9100
            for field, message in printers.printer_address_errors(host, port).items():
                self.add_error(field, message)
        return data


@admin.register(Printer)
class PrinterAdmin(ShopScopedAdmin):
    form = PrinterAdminForm
    list_display = [
        "name",
        "shop",
        "kind",
        "connection",
        "host",
        "port",
        "agent",
        "dpi",
        "is_default",
    ]
    list_filter = ["kind", "connection"]
    search_fields = ["name", "host", "shop__name", "shop__shop_no"]
    raw_id_fields = ["shop", "agent"]


@admin.action(description=_("Revoke the selected agents' keys"))
def revoke_agents(modeladmin, request, queryset):
    for agent in queryset.filter(revoked_at__isnull=True).select_related("shop"):
        agents.agent_revoke(actor=Actor.system(shop=agent.shop), agent=agent)
    messages.success(request, _("Revoked."))


@admin.register(PrintAgent)
class PrintAgentAdmin(ShopScopedAdmin):
    list_display = ["name", "shop", "prefix", "last_seen_at", "created_at", "revoked_at"]
    search_fields = ["name", "prefix", "shop__name", "shop__shop_no"]
    readonly_fields = ["key_hash", "prefix", "last_seen_at", "created_at", "revoked_at"]
    raw_id_fields = ["shop"]
    actions = [revoke_agents]

    def has_add_permission(self, request):
        return False  # a key is created by the shop, which sees it once


class DocumentInline(admin.TabularInline):
    model = PrintDocument
    extra = 0
    can_delete = False
    fields = ["sequence", "waybill", "is_reprint", "confirmed_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class AttemptInline(admin.TabularInline):
    model = PrintAttempt
    extra = 0
    can_delete = False
    fields = ["started_at", "finished_at", "transport", "documents", "confirmed", "bytes_sent",
              "outcome", "reason"]  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.action(description=_("Retry the selected print jobs (unconfirmed labels only)"))
def retry_jobs(modeladmin, request, queryset):
    done = 0
    for job in queryset.select_related("shop", "printer", "printer__agent"):
        try:
            print_jobs.print_job_retry(actor=Actor.system(shop=job.shop), job=job)
            done += 1
        except AppError as err:
            messages.error(
                request,
                _("%(subject)s: %(message)s")
                % {"subject": f"#{job.pk}", "message": err.render_message()},
            )
    if done:
        messages.success(request, _("%(count)s print jobs queued again.") % {"count": done})


@admin.register(PrintJob)
class PrintJobAdmin(ActorNameAdminMixin, ShopScopedAdmin):
    list_display = ["id", "shop", "printer", "status", "is_test", "created_at", "finished_at"]
    list_filter = ["status", "is_test"]
    search_fields = ["=id", "shop__name", "shop__shop_no", "printer__name"]
    readonly_fields = ["shop", "printer", "template", "status", "error", "created_by",
                       "actor_name", "created_at", "finished_at", "claimed_by", "claimed_at",
                       "is_test"]  # fmt: skip
    exclude = ["actor"]
    inlines = [DocumentInline, AttemptInline]
    actions = [retry_jobs]

    def has_add_permission(self, request):
        return False
