"""The audit page (`/audit/`): the district's trail for its administrators, filtered,
paged, and downloadable as CSV (docs/access.md, "Reading the audit trail")."""

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from homeroom.access.audit import (
    CSV_COLUMNS,
    AuditFilters,
    AuditNotFound,
    audit_rows,
    district_audit,
    may_read_audit,
    staff_choices,
)
from homeroom.accounts.actions import do_unlock_sign_in
from homeroom.accounts.selectors import locked_sign_ins
from homeroom.core.downloads import table_download
from homeroom.core.models import AuditEntry
from homeroom.web.tables import page_links

ENTRIES_PER_PAGE = 50


class AuditFilterForm(forms.Form):
    """The trail's filters, read from GET; every one optional."""

    who = forms.ChoiceField(label=_("Who"), required=False)
    student = forms.CharField(label=_("Student (id or name)"), required=False, max_length=100)
    action = forms.ChoiceField(
        label=_("Action"),
        required=False,
        choices=[("", _("Any action")), *AuditEntry.Action.choices],
    )
    start = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, data, *, district) -> None:
        super().__init__(data)
        self.fields["who"].choices = [("", _("Anyone")), *staff_choices(district)]

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and start > end:
            raise forms.ValidationError("The From date is after the To date.")
        return cleaned

    def filters(self) -> AuditFilters:
        """The filters a valid form holds (none for an invalid one)."""
        if not self.is_valid():
            return AuditFilters()
        return AuditFilters(**self.cleaned_data)


def audit_page(request: HttpRequest) -> HttpResponse:
    """Who viewed, changed or exported which student's record; `?download=csv` for a file."""
    user = request.user
    form = AuditFilterForm(request.GET or None, district=user.district)
    filters = form.filters()
    entries = district_audit(user, filters)
    if request.GET.get("download") == "csv":
        return _csv(user, entries, filters)
    page = Paginator(entries, ENTRIES_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "rows": audit_rows(page.object_list),
        "page_links": page_links(page, request.GET),
        "download": _with(request.GET, download="csv"),
        "locked": locked_sign_ins(user.district),
    }
    return render(request, "web/audit.html", context)


@require_POST
def unlock_sign_in(request: HttpRequest) -> HttpResponse:
    """Unlock a locked account of the district, or an address it was tried from, now."""
    user = request.user
    if not may_read_audit(user):
        raise AuditNotFound
    account, address = request.POST.get("account", ""), request.POST.get("address", "")
    with transaction.atomic():
        lock = next(
            (
                lock
                for lock in locked_sign_ins(user.district)
                if (lock.account, lock.address) == (account, address)
            ),
            None,
        )
        if lock is None:
            messages.error(
                request,
                _("That sign-in is not locked (any more) in your district: nothing was changed."),
            )
        else:
            do_unlock_sign_in(
                username=lock.account or None, address=lock.address or None, user=user
            )
            messages.success(
                request,
                _("Sign-in unlocked for %(what)s.") % {"what": lock.account or lock.address},
            )
    return redirect("web:audit")


def _with(query, **values) -> str:
    changed = query.copy()
    changed.pop("page", None)
    for key, value in values.items():
        changed[key] = value
    return "?" + changed.urlencode()


def _csv(user, entries, filters: AuditFilters) -> HttpResponse:
    """The filtered trail as a CSV file (its download audited like any export)."""
    return table_download(
        user=user,
        file_format="csv",
        subject="audit trail",
        filename="audit",
        header=CSV_COLUMNS,
        rows=[row.cells() for row in audit_rows(entries)],
        filters={k: str(v) for k, v in vars(filters).items() if v},
    )
