"""The staff interface in English and Spanish: the language each user chose, what it
translates, and how dates and numbers are written in it (docs/languages.md)."""

import ast
import datetime as dt
import gettext
import re
from decimal import ROUND_HALF_UP, Decimal
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import translation

from homeroom.conftest import add_absence, school_days
from homeroom.metrics import display
from homeroom.metrics.actions import do_refresh_summaries
from homeroom.metrics.labels import SHIPPED_WORDS
from homeroom.metrics.rules import load_rule_profile
from homeroom.web.tests.page_text import figure, table_rows

CATALOG = Path(settings.LOCALE_PATHS[0]) / "es" / "LC_MESSAGES"
PLACEHOLDER = re.compile(r"%\([a-z_]+\)s|\{[a-z_]+\}")
# Spanish month abbreviations as US Spanish writes them, by hand (not from Django).
SPANISH_MONTHS = [
    "ene",
    "feb",
    "mar",
    "abr",
    "may",
    "jun",
    "jul",
    "ago",
    "sep",
    "oct",
    "nov",
    "dic",
]
# Words of the English interface that are not also Spanish words: none may be left in the
# navigation, headings, table headers, captions, labels or buttons of a page in Spanish.
ENGLISH_WORDS = {
    "the", "of", "and", "by", "with", "Students", "Student", "School", "Schools", "Days",
    "Day", "Attendance", "attendance", "rate", "absent", "enrolled", "Grade", "Tier",
    "Band", "Show", "Search", "Sign", "out", "Download", "Early", "warnings", "warning",
    "Overview", "chronic", "Chronic", "Chronically", "Forecast", "week", "year", "Month",
    "Name", "Reason", "Timeline", "Filter", "Open", "case", "flags", "Guardians",
    "Enrollments", "Characteristics", "Exit", "Entry", "Date", "Code", "Playbook",
    "Measures", "caseload", "Team", "meeting", "Truancy", "Previous", "Next", "Page",
    "Share", "Gap", "Group", "District", "Why", "Last", "family", "contact",
}  # fmt: skip


# The catalog ------------------------------------------------------------------------------


def _po_entries(path: Path) -> list[dict]:
    """The entries of a .po file: context, msgid, plural, translations by index, flags."""
    entries, entry, field = [], None, None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if entry is not None:
                entries.append(entry)
            entry = None
            continue
        if entry is None:
            entry = {"context": None, "id": None, "plural": None, "strs": {}, "flags": ""}
        if line.startswith("#,"):
            entry["flags"] += line
        elif line.startswith("#"):
            continue
        elif found := re.match(r'(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?) (".*")$', line):
            keyword, index, text = found.groups()
            field = {"msgctxt": "context", "msgid": "id", "msgid_plural": "plural"}.get(keyword)
            if field is None:
                field = int(index or 0)
                entry["strs"][field] = ast.literal_eval(text)
            else:
                entry[field] = ast.literal_eval(text)
        elif isinstance(field, int):
            entry["strs"][field] += ast.literal_eval(line)
        else:
            entry[field] += ast.literal_eval(line)
    return [entry for entry in entries if entry["id"]]  # not the header


ENTRIES = _po_entries(CATALOG / "django.po")


def test_every_message_has_a_spanish_translation_with_the_same_placeholders():
    # given the Spanish catalog
    assert len(ENTRIES) > 400  # the whole interface's messages, not a stub
    for entry in ENTRIES:
        # then no message is marked fuzzy (a guess msgfmt would not use) or left empty,
        assert "fuzzy" not in entry["flags"], entry["id"]
        forms = [entry["strs"][0], entry["strs"][1]] if entry["plural"] else [entry["strs"][0]]
        assert all(text.strip() for text in forms), entry["id"]
        # and each translation keeps every placeholder of the English
        wanted = set(PLACEHOLDER.findall(entry["id"] + (entry["plural"] or "")))
        for text in forms:
            assert set(PLACEHOLDER.findall(text)) == wanted, (entry["id"], text)


def test_the_compiled_catalog_holds_exactly_the_po_files_translations():
    # given the compiled catalog the server reads (committed, so no gettext is needed to run)
    with (CATALOG / "django.mo").open("rb") as compiled:
        catalog = dict(gettext.GNUTranslations(compiled)._catalog)
    catalog.pop("", None)  # the header
    # then it is the .po file's, message for message (else: homeroom compilemessages)
    expected = {}
    for entry in ENTRIES:
        key = entry["id"] if entry["context"] is None else f"{entry['context']}\x04{entry['id']}"
        if entry["plural"]:
            expected |= {(key, index): text for index, text in entry["strs"].items()}
        else:
            expected[key] = entry["strs"][0]
    assert catalog == expected


def test_the_shipped_rule_profiles_words_are_all_offered_for_translation():
    # given every rule profile Homeroom ships
    profiles = Path(settings.PACKAGE_DIR) / "metrics" / "profiles"
    shipped = [load_rule_profile(path.stem) for path in sorted(profiles.glob("*.toml"))]
    assert len(shipped) >= 5
    # then each of their titles and band and tier labels is in the list the catalog is
    # made from (and so, by the test above, translated)
    for profile in shipped:
        for text in [profile.title, *(level.label for level in (*profile.bands, *profile.tiers))]:
            assert text in SHIPPED_WORDS, (profile.name, text)


# Dates and numbers --------------------------------------------------------------------------


def test_figures_are_written_the_spanish_way_in_spanish():
    with translation.override("es"):
        assert display.percent(0.9712) == "97,1\u00a0%"
        assert display.count(12345) == "12\u00a0345"
        assert display.days(1234.25, 1) == "1\u00a0234,3"
        assert display.points(-0.0525) == "\u22125,3\u00a0p.\u00a0p."
        assert display.date(dt.date(2026, 12, 7)) == "7 dic 2026"
    # and the same figures in English, as before
    assert display.percent(0.9712) == "97.1%"
    assert display.count(12345) == "12,345"
    assert display.points(-0.0525) == "\u22125.3 pts"
    assert display.date(dt.date(2026, 12, 7)) == "Dec 7, 2026"


# Pages ------------------------------------------------------------------------------------


class _Visible(HTMLParser):
    """The text of a page's navigation, headings, table headers, captions, labels, buttons."""

    WATCHED = {"nav", "h1", "h2", "h3", "caption", "dt", "label", "button", "summary", "legend"}

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.texts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in self.WATCHED or (tag == "th" and ("scope", "col") in attrs):
            self.open.append(tag)
            self.texts.append("")

    def handle_endtag(self, tag):
        if self.open and self.open[-1] == tag:
            self.open.pop()

    def handle_data(self, data):
        if self.open:
            self.texts[-1] += data


def english_left(html: str, names: list[str]) -> set[str]:
    """English words in the page's interface text, once the names of data are taken out."""
    parser = _Visible()
    parser.feed(html)
    text = " ".join(parser.texts)
    for name in names:
        text = text.replace(name, " ")
    return set(re.findall(r"[A-Za-z]+", text)) & ENGLISH_WORDS


def _html_lang(response) -> str:
    return re.search(r'<html lang="([^"]+)"', response.text).group(1)


@pytest.fixture
def ana_absent_twice(cast):
    """Ana has two absences this year, summarized; returns the two days."""
    days = [day for day in school_days(cast.this_year) if day < cast.today][:2]
    for day in days:
        add_absence(cast, cast.ana, cast.lincoln, day, code="A")
    do_refresh_summaries(cast.district)
    return days


def _names(cast) -> list[str]:
    students = [cast.ana, cast.ben, cast.carla, cast.dev, cast.eli, cast.gabe, cast.hal]
    people = [f"{s.first_name} {s.last_name}" for s in students] + [s.first_name for s in students]
    return [
        *people,
        cast.lincoln.name,
        cast.central.name,
        cast.district.name,
        cast.this_year.name,
        "Homeroom",
        "Room 3",
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("username", "route", "arguments"),
    [
        ("admin", "web:home", lambda cast: []),
        ("admin", "web:school_dashboard", lambda cast: [cast.lincoln.pk]),
        ("admin", "web:grade_dashboard", lambda cast: [cast.lincoln.pk, 3]),
        ("admin", "web:students", lambda cast: []),
        ("admin", "web:warnings", lambda cast: []),
        ("teacher", "web:student", lambda cast: [cast.ana.pk]),
        ("counselor", "interventions:caseload", lambda cast: []),
        ("teacher", "web:home", lambda cast: []),
        ("admin", "web:audit", lambda cast: []),
        ("admin", "web:imports", lambda cast: []),
        ("admin", "interventions:playbook", lambda cast: []),
    ],
)
def test_a_spanish_reader_sees_the_page_in_spanish(
    cast, ana_absent_twice, username, route, arguments
):
    # given a member of staff who chose Spanish
    user = getattr(cast, username)
    user.language = "es"
    user.save(update_fields=["language"])
    client = Client()
    client.force_login(user)
    # when they open the page
    response = client.get(reverse(route, args=arguments(cast)), follow=True)
    # then it says it is Spanish, and no English is left in its interface text
    assert response.status_code == 200
    assert _html_lang(response) == "es"
    assert english_left(response.text, _names(cast)) == set()
    # while the same page in English holds those words (the check above can fail)
    user.language = "en"
    user.save(update_fields=["language"])
    english = client.get(reverse(route, args=arguments(cast)), follow=True)
    assert _html_lang(english) == "en"
    assert english_left(english.text, _names(cast))


@pytest.mark.django_db
def test_the_student_page_writes_figures_and_dates_the_readers_way(cast, ana_absent_twice):
    # given Ana absent two days, her page read by a teacher in Spanish and one in English
    client = Client()
    client.force_login(cast.teacher)
    english = client.get(reverse("web:student", args=[cast.ana.pk])).text
    cast.teacher.language = "es"
    cast.teacher.save(update_fields=["language"])
    spanish = client.get(reverse("web:student", args=[cast.ana.pk])).text
    # then the attendance rate, computed here by hand from the days she was enrolled, reads
    # 96.3% in English and 96,3 % in Spanish
    enrolled = int(figure(english, "Days enrolled"))
    share = Decimal(enrolled - 2) / Decimal(enrolled) * 100
    rate = share.quantize(Decimal("0.1"), ROUND_HALF_UP)
    assert figure(english, "Attendance rate") == f"{rate}%"
    assert figure(spanish, "Tasa de asistencia") == f"{str(rate).replace('.', ',')}\u00a0%"
    # and each absence's date is written "Dec 7, 2026" or "7 dic 2026"
    first = ana_absent_twice[0]
    english_dates = [row[0] for row in table_rows(english, "Every absence")[1:]]
    spanish_dates = [row[0] for row in table_rows(spanish, "Cada ausencia")[1:]]
    assert any(day.endswith(f"{first:%b} {first.day}, {first.year}") for day in english_dates)
    month = SPANISH_MONTHS[first.month - 1]
    assert any(day.endswith(f"{first.day} {month} {first.year}") for day in spanish_dates)


@pytest.mark.django_db
def test_choosing_a_language_keeps_it_on_the_account(cast):
    # given a teacher reading in English
    client = Client()
    client.force_login(cast.teacher)
    assert "Sign out" in client.get(reverse("web:students")).text
    # when they choose Spanish in the header on the students page
    students = f"http://testserver{reverse('web:students')}"
    response = client.post(
        reverse("web:language"), {"language": "es"}, headers={"referer": students}
    )
    # then they are back on the page, now in Spanish, and the account keeps the choice
    assert response.status_code == 302
    assert response["Location"] == students
    cast.teacher.refresh_from_db()
    assert cast.teacher.language == "es"
    page = client.get(reverse("web:students")).text
    assert "Cerrar sesión" in page and "Sign out" not in page
    # and a new session (another computer) opens in Spanish too
    other = Client()
    other.force_login(cast.teacher)
    assert _html_lang(other.get(reverse("web:students"))) == "es"


@pytest.mark.django_db
def test_a_language_homeroom_does_not_have_is_refused_and_changes_nothing(cast):
    client = Client()
    client.force_login(cast.teacher)
    response = client.post(reverse("web:language"), {"language": "fr"})
    assert response.status_code == 400
    assert "English, Español" in response.text
    cast.teacher.refresh_from_db()
    assert cast.teacher.language == ""


@pytest.mark.django_db
def test_a_link_elsewhere_is_not_followed_after_choosing(cast):
    client = Client()
    client.force_login(cast.teacher)
    response = client.post(
        reverse("web:language"), {"language": "es"}, headers={"referer": "https://example.org/"}
    )
    assert response["Location"] == reverse("web:home")


@pytest.mark.django_db
def test_before_choosing_the_browsers_language_decides(cast):
    # given someone not signed in whose browser asks for Spanish, then one asking for French
    spanish = Client(headers={"accept-language": "es-MX,es;q=0.9,en;q=0.5"})
    french = Client(headers={"accept-language": "fr-FR,fr;q=0.9"})
    # then the sign-in page is in Spanish for the first, in English (the default) for the other
    page = spanish.get(reverse("web:login"))
    assert _html_lang(page) == "es" and "Iniciar sesión en Homeroom" in page.text
    assert _html_lang(french.get(reverse("web:login"))) == "en"
    # and a signed-in user who has not chosen follows their browser too, until they choose
    spanish.force_login(cast.teacher)
    assert _html_lang(spanish.get(reverse("web:students"))) == "es"
    cast.teacher.language = "en"
    cast.teacher.save(update_fields=["language"])
    assert _html_lang(spanish.get(reverse("web:students"))) == "en"


@pytest.fixture
def truancy_steps(cast, ana_absent_twice):
    """The generic truancy pack chosen; Ana eligible for its first notice, Ben sent both
    notices with his attendance team meeting approved (as the permission matrix has it)."""
    from homeroom.truancy.actions import do_approve_step, do_choose_pack, do_find_eligible
    from homeroom.truancy.models import TruancyStep
    from homeroom.truancy.tests.conftest import absent, school_days_from

    do_choose_pack(cast.admin, based_on="generic")
    days = school_days_from(cast.this_year.start_date, 6)
    for day in days[:3]:
        absent(cast, cast.ana, day)
    for day in days:
        absent(cast, cast.ben, day)
    for key in ("not1", "not2", "meeting"):
        do_find_eligible(cast.district, as_of=cast.today)
        step = TruancyStep.objects.get(student=cast.ben, key=key)
        do_approve_step(cast.admin, step_id=step.pk, version=step.version)
    return {
        "ana": TruancyStep.objects.get(student=cast.ana, key="not1"),
        "meeting": TruancyStep.objects.get(student=cast.ben, key="meeting"),
        # the pack's words are the district's data, shown as written (docs/languages.md)
        "titles": sorted(TruancyStep.objects.values_list("title", flat=True).distinct()),
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("username", "route", "arguments", "query"),
    [
        ("admin", "truancy:queue", lambda cast, steps: [], {}),
        ("admin", "truancy:step", lambda cast, steps: [steps["ana"].pk], {}),
        ("principal", "truancy:step", lambda cast, steps: [steps["meeting"].pk], {}),
        ("admin", "truancy:pack", lambda cast, steps: [], {}),
        ("admin", "outreach:unmatched", lambda cast, steps: [], {}),
        ("admin", "outreach:templates", lambda cast, steps: [], {}),
        ("admin", "outreach:settings", lambda cast, steps: [], {}),
        ("admin", "outreach:letters", lambda cast, steps: [], {}),
        ("admin", "outreach:family-message", lambda cast, steps: [cast.ana.pk], {}),
    ],
)
def test_the_truancy_and_outreach_pages_read_in_spanish(
    cast, truancy_steps, username, route, arguments, query
):
    # given a member of staff who chose Spanish
    user = getattr(cast, username)
    user.language = "es"
    user.save(update_fields=["language"])
    client = Client()
    client.force_login(user)
    url = reverse(route, args=arguments(cast, truancy_steps))
    names = [*_names(cast), *truancy_steps["titles"]]
    # when they open the page, then no English is left in its interface text
    response = client.get(url, query, follow=True)
    assert response.status_code == 200
    assert _html_lang(response) == "es"
    assert english_left(response.text, names) == set()
    # while the same page in English holds those words (the check above can fail)
    user.language = "en"
    user.save(update_fields=["language"])
    english = client.get(url, query, follow=True)
    assert english_left(english.text, names)


def _page_text(html: str) -> str:
    """Everything a reader sees of a page: its text without tags, scripts or styles."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def _says(text: str, words: str) -> bool:
    """Whether the text holds the words whole ("Enviado" is not in "Enviados")."""
    return re.search(rf"(?<!\w){re.escape(words)}(?!\w)", text) is not None


@pytest.mark.django_db
def test_stored_statuses_and_kinds_read_in_spanish(cast, truancy_steps):
    from homeroom.ingest.models import ImportRun
    from homeroom.outreach.actions import do_install_default_templates
    from homeroom.outreach.tests.conftest import consent, guardian
    from homeroom.roster.models import StudentGuardian
    from homeroom.truancy.models import TruancyStep

    # given Ben's first notice sent and his meeting approved, Ana's notice awaiting approval,
    # a text to Ana's mother waiting to be sent, the message templates, and an import
    do_install_default_templates(cast.district)
    maria = guardian(cast, "G1", "María", "Alvarez", phone="555-010-1001", language="es")
    StudentGuardian.objects.create(student=cast.ana, guardian=maria, relationship="mother")
    consent(maria, sms="granted")
    ImportRun.objects.create(
        district=cast.district, source_format="homeroom-csv", status="succeeded"
    )
    ben_notice = TruancyStep.objects.get(student=cast.ben, key="not1")
    user = cast.admin
    user.language = "es"
    user.save(update_fields=["language"])
    client = Client()
    client.force_login(user)
    sent = client.post(
        reverse("outreach:family-message", args=[cast.ana.pk]),
        {"guardian_id": maria.pk, "channel": "sms", "text": "Hola"},
        follow=True,
    )
    assert sent.status_code == 200
    # when they open the pages that show them, then each reads in Spanish, never in
    # English nor as the stored code
    pages = [
        ("truancy:step", [ben_notice.pk], ["Enviado", "Carta de aviso"], ["Sent", "Notice letter"]),
        ("truancy:step", [truancy_steps["meeting"].pk], ["Aprobado"], ["Approved", "approved"]),
        (
            "truancy:step",
            [truancy_steps["ana"].pk],
            ["Pendiente de aprobación"],
            ["Awaiting approval", "eligible"],
        ),
        (
            "outreach:family-message",
            [cast.ana.pk],
            ["En espera de envío"],
            ["Waiting to be sent", "queued"],
        ),
        (
            "outreach:templates",
            [],
            ["Ausencia de hoy", "Mensaje del personal", "Asistencia mejorada"],
            ["Absence today", "Message from staff", "Improved attendance"],
        ),
        ("web:imports", [], ["Completada"], ["Succeeded", "succeeded"]),
    ]
    for route, arguments, spanish, english in pages:
        text = _page_text(client.get(reverse(route, args=arguments)).text)
        for words in spanish:
            assert _says(text, words), (route, words)
        for words in english:
            assert not _says(text, words), (route, words)
    # and the queue's table of steps done says Ben's notices were sent, in Spanish
    queue = _page_text(client.get(reverse("truancy:queue"), {"school": cast.lincoln.pk}).text)
    assert _says(queue, "Enviado")
    assert not _says(queue, "Sent")
