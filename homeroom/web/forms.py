"""Forms of the staff web interface."""

import zipfile
from collections.abc import Iterable

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from homeroom.accounts.actions import do_record_failed_sign_in, do_record_locked_sign_in
from homeroom.accounts.selectors import sign_in_locked
from homeroom.core.models import GradeLevel, School
from homeroom.ingest.adapters.tabular.profiles import shipped_profiles
from homeroom.ingest.formats import FORMATS
from homeroom.pipeline.uploads import UploadOptions
from homeroom.warnings.models import Flag
from homeroom.web.tables import SORT_CHOICES


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
        "locked": (
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


class StudentSearchForm(forms.Form):
    """Search, filters and sort order of the students list (all optional, read from GET)."""

    q = forms.CharField(label="Name or student id", required=False, max_length=100)
    school = forms.ModelChoiceField(
        label="School", queryset=School.objects.none(), required=False, empty_label="All schools"
    )
    grade = forms.TypedChoiceField(
        label="Grade", choices=(), coerce=int, empty_value=None, required=False
    )
    sort = forms.ChoiceField(label="Sort by", choices=SORT_CHOICES, required=False)

    def __init__(self, data, *, schools: QuerySet[School], grades: Iterable[int]) -> None:
        super().__init__(data)
        self.fields["school"].queryset = schools
        labels = dict(GradeLevel.choices)
        self.fields["grade"].choices = [
            ("", "All grades"),
            *((grade, labels[grade]) for grade in grades),
        ]
        self.fields["q"].widget.attrs.update({"type": "search", "autocomplete": "off"})

    def filters(self) -> dict:
        """The valid filters given; a field with a bad value is simply not applied."""
        self.is_valid()
        cleaned = getattr(self, "cleaned_data", {})
        return {
            "text": (cleaned.get("q") or "").strip(),
            "school": cleaned.get("school"),
            "grade": cleaned.get("grade"),
            "sort": cleaned.get("sort") or "name",
        }


class FlagFilterForm(forms.Form):
    """Which kind of flag the early-warnings list keeps to (optional, read from GET)."""

    kind = forms.ChoiceField(
        label="Flag",
        choices=[("", "All flags"), *Flag.Kind.choices],
        required=False,
        error_messages={
            "invalid_choice": "There is no flag “%(value)s”: choose one from the list."
        },
    )

    def kind_filter(self) -> str | None:
        """The kind of flag chosen; None for all flags, or when the choice is not valid."""
        if not self.is_valid():
            return None
        return self.cleaned_data["kind"] or None


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
        label="Format",
        choices=(),
        error_messages={"required": "Choose the format of the files."},
    )
    profile = forms.ChoiceField(
        label="Mapping profile",
        required=False,
        choices=(),
        help_text="CSV and XLSX only: which columns of the export hold what (see the import "
        "guide).",
    )
    on_error = forms.ChoiceField(
        label="If a row has an error",
        choices=[
            ("reject", "Import nothing, and list every error (recommended)"),
            ("skip", "Import the rows without errors, and list the others"),
        ],
        initial="reject",
        widget=forms.RadioSelect,
    )
    implied_enrollments = forms.BooleanField(
        label="Ed-Fi without enrollments: enroll each student with attendance at a school for "
        "that school's sessions",
        required=False,
    )
    files = MultipleFileField(
        label="Files",
        error_messages={"required": "Choose the files to import."},
        help_text="Several files of one export at once. OneRoster: the export's .zip or its "
        ".csv files.",
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
