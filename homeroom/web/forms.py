"""Forms of the staff web interface."""

import zipfile
from collections.abc import Iterable

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from homeroom.accounts.actions import do_record_failed_sign_in, do_record_locked_sign_in
from homeroom.accounts.selectors import sign_in_locked
from homeroom.core.models import GradeLevel, School
from homeroom.ingest.adapters.tabular.profiles import shipped_profiles
from homeroom.ingest.formats import FORMATS
from homeroom.interventions.worklists import CHRONIC, EARLY, RISK_FLAG_CHOICES, WorklistFilters
from homeroom.metrics.labels import level_choices
from homeroom.metrics.rules import RuleProfile
from homeroom.pipeline.uploads import UploadOptions
from homeroom.roster.models import StudentCharacteristic
from homeroom.web.tables import DEFAULT_SORT, SORT_CHOICES

CHOOSE_FROM_LIST = {"invalid_choice": _("There is no “%(value)s” here: choose one from the list.")}


def client_address(request: HttpRequest) -> str | None:
    """The address a request came from: the proxy's word for it when Homeroom is behind
    one (the last address it appended to X-Forwarded-For), the socket's otherwise."""
    if settings.BEHIND_PROXY and (forwarded := request.META.get("HTTP_X_FORWARDED_FOR")):
        return forwarded.split(",")[-1].strip() or None
    return request.META.get("REMOTE_ADDR") or None


class SignInForm(AuthenticationForm):
    """The sign-in form, refusing an account or an address locked by failed sign-ins
    (homeroom/accounts/selectors.py) before the password is checked, and recording every
    failure and refusal in the audit log."""

    error_messages = AuthenticationForm.error_messages | {
        "locked": _(
            "Too many failed sign-ins for this account or from this address. Try again in "
            "%(minutes)s minutes, or ask a district administrator to unlock it."
        )
    }

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        address = client_address(self.request)
        if sign_in_locked(username=username, address=address):
            do_record_locked_sign_in(username=username, address=address)
            raise ValidationError(
                self.error_messages["locked"],
                code="locked",
                params={"minutes": settings.LOGIN_LOCKOUT_MINUTES},
            )
        try:
            return super().clean()
        except ValidationError:
            do_record_failed_sign_in(username=username, address=address)
            raise


class ListFilterForm(forms.Form):
    """Filters the students list and the worklists share (all optional, read from GET).

    A field with a value it cannot read is not applied, so a shared link that outlived a
    school or a tier still opens.
    """

    school = forms.ModelChoiceField(
        label=_("School"),
        queryset=School.objects.none(),
        required=False,
        empty_label=_("All schools"),
    )
    grade = forms.TypedChoiceField(
        label=_("Grade"), choices=(), coerce=int, empty_value=None, required=False
    )
    tier = forms.ChoiceField(
        label=_("Tier"), choices=(), required=False, error_messages=CHOOSE_FROM_LIST
    )
    flag = forms.ChoiceField(
        label=_("Flag"),
        choices=[("", _("Any or no flag")), *RISK_FLAG_CHOICES],
        required=False,
        error_messages=CHOOSE_FROM_LIST,
    )
    caseload = forms.ChoiceField(
        label=_("Caseload"),
        choices=[("", _("Everyone you may see")), ("mine", _("My caseload and cases"))],
        required=False,
    )

    def __init__(
        self, data, *, schools: QuerySet[School], grades: Iterable[int], rules: RuleProfile | None
    ) -> None:
        super().__init__(data)
        self.fields["school"].queryset = schools
        labels = dict(GradeLevel.choices)
        self.fields["grade"].choices = [
            ("", _("All grades")),
            *((grade, labels[grade]) for grade in grades),
        ]
        self.fields["tier"].choices = [("", _("All tiers")), *level_choices(rules, "tiers")]

    def cleaned(self) -> dict:
        """The values that were valid; the others as if not given."""
        self.is_valid()
        cleaned = dict(getattr(self, "cleaned_data", {}))
        for name in self.errors:
            cleaned[name] = None
        return cleaned

    def applied(self) -> dict[str, str]:
        """The filters applied, as their query parameters (for links and the audit log)."""
        return {
            name: self.data[name]
            for name in self.fields
            if self.data.get(name) and name not in self.errors
        }


class StudentSearchForm(ListFilterForm):
    """Search, filters and sort order of the students list."""

    q = forms.CharField(label=_("Name or student id"), required=False, max_length=100)
    band = forms.ChoiceField(label=_("Band"), choices=(), required=False)
    group = forms.ChoiceField(
        label=_("Group"),
        choices=[("", _("All students")), *StudentCharacteristic.Kind.choices],
        required=False,
    )
    enrolled = forms.ChoiceField(
        label=_("Students"),
        choices=[("", _("Enrolled this year")), ("all", _("Also those not enrolled this year"))],
        required=False,
    )
    chronic = forms.BooleanField(label=_("Chronically absent only"), required=False)
    sort = forms.ChoiceField(label=_("Sort by"), choices=SORT_CHOICES, required=False)
    field_order = ("q", "school", "grade", "band", "tier", "chronic", "flag", "group", "caseload")

    def __init__(self, data, *, rules: RuleProfile | None, **kwargs) -> None:
        super().__init__(data, rules=rules, **kwargs)
        self.fields["band"].choices = [("", _("All bands")), *level_choices(rules, "bands")]
        self.fields["q"].widget.attrs.update({"type": "search", "autocomplete": "off"})

    def filters(self) -> dict:
        """The valid filters given; a field with a bad value is simply not applied."""
        cleaned = self.cleaned()
        return {
            "text": (cleaned.get("q") or "").strip(),
            "school": cleaned.get("school"),
            "grade": cleaned.get("grade"),
            "band": cleaned.get("band") or "",
            "tier": cleaned.get("tier") or "",
            "flag": cleaned.get("flag") or "",
            "group": cleaned.get("group") or "",
            "caseload": cleaned.get("caseload") == "mine",
            "chronic": bool(cleaned.get("chronic")),
            "enrolled_only": cleaned.get("enrolled") != "all",
            "sort": cleaned.get("sort") or DEFAULT_SORT,
        }


class WorklistForm(ListFilterForm):
    """Which list of the early-warning page, and its filters."""

    contact = forms.ChoiceField(
        label=_("Family contact"),
        choices=[("", _("With or without")), ("none", _("No contact yet this year"))],
        required=False,
    )
    list = forms.ChoiceField(
        choices=[("", _("Early warning")), ("chronic", _("Already chronically absent"))],
        required=False,
        widget=forms.HiddenInput,
    )

    def filters(self) -> WorklistFilters:
        """The valid filters given; a field with a bad value is simply not applied."""
        cleaned = self.cleaned()
        return WorklistFilters(
            school=cleaned.get("school"),
            grade=cleaned.get("grade"),
            tier=cleaned.get("tier") or "",
            flag=cleaned.get("flag") or "",
            caseload=cleaned.get("caseload") == "mine",
            no_contact=cleaned.get("contact") == "none",
        )

    def chosen_list(self) -> str:
        """`chronic` for the chronic list, else `early` (the worklist)."""
        return CHRONIC if self.cleaned().get("list") == CHRONIC else EARLY


class MultipleFileInput(forms.FileInput):
    """A file input that takes several files at once."""

    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several uploaded files, each checked as a `FileField` checks one."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None) -> list:
        clean_one = super().clean
        items = list(data) if isinstance(data, list | tuple) else [data]
        return [clean_one(item, initial) for item in items or [None]]


# What each format takes besides its own files; CSV and XLSX files are matched by the profile.
FILE_SUFFIXES = {
    "edfi-xml": (".xml",),
    "edfi-json": (".json",),
    "oneroster": (".zip", ".csv"),
}
EDFI_FORMATS = frozenset({"edfi-xml", "edfi-json"})


class ImportUploadForm(forms.Form):
    """The files of an import and how to read them (the web's `homeroom import`)."""

    source_format = forms.ChoiceField(
        label=_("Format"),
        choices=(),
        error_messages={"required": "Choose the format of the files."},
    )
    profile = forms.ChoiceField(
        label=_("Mapping profile"),
        required=False,
        choices=(),
        help_text=_(
            "CSV and XLSX only: which columns of the export hold what (see the import guide)."
        ),
    )
    on_error = forms.ChoiceField(
        label=_("If a row has an error"),
        choices=[
            ("reject", "Import nothing, and list every error (recommended)"),
            ("skip", "Import the rows without errors, and list the others"),
        ],
        initial="reject",
        widget=forms.RadioSelect,
    )
    implied_enrollments = forms.BooleanField(
        label=_(
            "Ed-Fi without enrollments: enroll each student with attendance at a school for "
            "that school's sessions"
        ),
        required=False,
    )
    files = MultipleFileField(
        label=_("Files"),
        error_messages={"required": "Choose the files to import."},
        help_text=_(
            "Several files of one export at once. OneRoster: the export's .zip or its .csv files."
        ),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["source_format"].choices = [
            ("", "Choose a format"),
            *((name, f"{name}: {f.description}") for name, f in FORMATS.items()),
        ]
        self.fields["profile"].choices = [
            ("", "Choose a profile"),
            *((name, name) for name in shipped_profiles()),
        ]

    def clean(self) -> dict:
        cleaned = super().clean()
        source = FORMATS.get(cleaned.get("source_format", ""))
        if source is None:
            return cleaned
        if not source.needs_profile:
            cleaned["profile"] = None
        elif not cleaned.get("profile"):
            self.add_error("profile", f"Choose the mapping profile for {source.name} files.")
        if source.name not in EDFI_FORMATS:
            cleaned["implied_enrollments"] = False
        for uploaded in cleaned.get("files") or []:
            self._check_file(source.name, uploaded)
        return cleaned

    def _check_file(self, source_format: str, uploaded) -> None:
        name = uploaded.name or ""
        suffixes = FILE_SUFFIXES.get(source_format)
        if suffixes and not name.lower().endswith(suffixes):
            self.add_error(
                "files", f"{name}: a {source_format} import takes {' or '.join(suffixes)} files."
            )
        elif name.lower().endswith(".zip") and not zipfile.is_zipfile(uploaded):
            self.add_error("files", f"{name}: is not a zip file (it may be damaged).")

    def options(self) -> UploadOptions:
        """The choices made, once the form is valid."""
        return UploadOptions(
            source_format=self.cleaned_data["source_format"],
            profile=self.cleaned_data["profile"],
            on_error=self.cleaned_data["on_error"],
            implied_enrollments=self.cleaned_data["implied_enrollments"],
        )
