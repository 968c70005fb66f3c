"""The nudge letter and printed batches: one PDF per school, one letter per household."""

import csv
import datetime as dt
import zoneinfo

import pypdf
import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from homeroom.conftest import PASSWORD, add_absence, enroll, school_days
from homeroom.core.models import AuditEntry
from homeroom.metrics.actions import do_refresh_summaries
from homeroom.outreach import letters
from homeroom.outreach.actions import outreach_settings
from homeroom.outreach.letters import do_print_letters
from homeroom.outreach.models import Message, TriggerHit
from homeroom.outreach.triggers import do_evaluate_triggers, draw
from homeroom.roster.models import Student

pytestmark = pytest.mark.django_db


def absent(cast, student, count: int, school=None):
    past = [day for day in school_days(cast.this_year) if day < cast.today]
    for day in past[:count]:
        add_absence(cast, student, school or cast.lincoln, day)


def nudge_only(cast, share: float):
    rules = outreach_settings(cast.district)
    rules.triggers = {
        "absence_today": {"enabled": False},
        "absence_threshold": {"enabled": False},
        "nudge": {"enabled": True, "share": share, "min_days": 3},
    }
    rules.save()


@pytest.fixture
def third_grade(cast, families):
    """Ana (6 days absent) and two classmates in grade 3 at Lincoln (0 and 2): the typical
    classmate, the median, missed 2. Ben (grade 4, 4 days) lives with Linh, who reads Arabic."""
    for n, days in ((1, 0), (2, 2)):
        pupil = Student.objects.create(
            district=cast.district, local_id=f"C{n}", first_name=f"Kid{n}", last_name="Doe", grade=3
        )
        enroll(pupil, cast.lincoln, cast.this_year)
        absent(cast, pupil, days)
    absent(cast, cast.ana, 6)
    absent(cast, cast.ben, 4)
    families.linh.preferred_language = "ar"
    families.linh.address_line, families.linh.city = '=HYPERLINK("x") 4 Oak Ave', "Riverside"
    families.linh.state, families.linh.postal_code = "IL", "60546"
    families.linh.save()
    do_refresh_summaries(cast.district)


def six_am(cast):
    return dt.datetime.combine(cast.today, dt.time(6), tzinfo=zoneinfo.ZoneInfo("America/Chicago"))


def test_the_nudge_letter_states_the_childs_days_and_a_typical_classmates(
    cast, families, third_grade
):
    nudge_only(cast, share=1.0)
    counts = do_evaluate_triggers(cast.district, as_of=cast.today, now=six_am(cast))
    # Ana's and Ben's households; the classmates have no guardian on the roster
    assert counts == {"nudge": 2}
    letter = Message.objects.get(guardian=families.maria)
    assert letter.channel == "letter"
    months = "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre"
    month = [*months.split(), "diciembre"][cast.today.month - 1]
    expected = (
        "Estimado(a) María Alvarez:\n\nHasta el "
        f"{cast.today.day} de {month} de {cast.today.year}, Ana ha faltado 6 días a la "
        "escuela este año. Un compañero típico ha faltado 2 días."
    )
    assert letter.body[: len(expected)] == expected
    assert letter.stated["students"][str(cast.ana.pk)]["typical_days"] == 2


def test_households_the_draw_holds_out_get_nothing_and_are_recorded(cast, families, third_grade):
    nudge_only(cast, share=0.0)
    counts = do_evaluate_triggers(cast.district, as_of=cast.today, now=six_am(cast))
    assert counts["nudge holdout"] == 2
    assert not Message.objects.exists()
    assert set(TriggerHit.objects.filter(held_out=True).values_list("student_id", flat=True)) == {
        cast.ana.pk,
        cast.ben.pk,
    }
    # and the night run again draws nothing new
    counts = do_evaluate_triggers(cast.district, as_of=cast.today, now=six_am(cast))
    assert "nudge holdout" not in counts


def test_the_draw_gives_each_household_the_share_asked():
    treated = sum(draw("1:2026-2027:1", guardian) < 0.5 for guardian in range(20_000))
    assert 9_700 < treated < 10_300
    assert draw("1:2026-2027:1", 7) == draw("1:2026-2027:1", 7)


def test_a_school_batch_is_one_pdf_with_a_cover_sheet_and_a_manifest(
    cast, families, third_grade, settings, tmp_path
):
    settings.DATA_DIR = tmp_path
    nudge_only(cast, share=1.0)
    do_evaluate_triggers(cast.district, as_of=cast.today, now=six_am(cast))
    # when the admin prints Lincoln's letters
    batch = do_print_letters(cast.admin, school_id=cast.lincoln.pk)
    # then one PDF holds the cover sheet and one page per household
    pdf = pypdf.PdfReader(tmp_path / batch.pdf)
    assert len(pdf.pages) == 3
    cover = pdf.pages[0].extract_text()
    assert "Print shop: Lincoln Elementary" in cover
    assert "Letters (one page each) 2" in cover
    assert "Languages Arabic, Spanish" in cover
    maria = pdf.pages[1].extract_text()
    assert "María Alvarez\n12 Elm St\nRiverside, IL 60546" in maria
    assert "Ana ha faltado 6 días" in maria
    assert "Linh Brooks" in pdf.pages[2].extract_text()
    # and the manifest lists them in the same order, with no cell a spreadsheet would run
    rows = list(csv.reader((tmp_path / batch.manifest).read_text(encoding="utf-8").splitlines()))
    assert rows[0][:4] == ["letter", "message id", "school", "guardian"]
    assert [row[3] for row in rows[1:]] == ["María Alvarez", "Linh Brooks"]
    assert rows[2][4] == '\'=HYPERLINK("x") 4 Oak Ave'
    assert rows[2][8] == "Arabic"
    # and the letters are sent, so a second batch finds none
    assert set(Message.objects.values_list("status", flat=True)) == {"sent"}
    with pytest.raises(ValidationError):
        do_print_letters(cast.admin, school_id=cast.lincoln.pk)


def test_the_administrator_reviews_a_batch_excludes_a_household_and_prints_the_rest(
    cast, families, third_grade, settings, tmp_path, client
):
    settings.DATA_DIR = tmp_path
    nudge_only(cast, share=1.0)
    do_evaluate_triggers(cast.district, as_of=cast.today, now=six_am(cast))
    client.login(username=cast.admin.username, password=PASSWORD)
    page = reverse("outreach:letters")
    # the page lists Lincoln's two letters
    listed = client.get(page).content.decode()
    assert "Lincoln Elementary: 2 letters" in listed
    assert "María Alvarez" in listed and "Linh Brooks" in listed
    # an exclusion without a reason is refused, and nothing changes
    linh = Message.objects.get(guardian=families.linh)
    refused = client.post(page, {"exclude": linh.pk, "reason": " "}, follow=True)
    assert "Say why this letter should not go (kept in the log)." in refused.content.decode()
    assert Message.objects.get(pk=linh.pk).status == "queued"
    # when the administrator excludes Linh's letter, saying why
    client.post(page, {"exclude": linh.pk, "reason": "Family moved"})
    linh.refresh_from_db()
    assert linh.status == "excluded"
    audit = AuditEntry.objects.get(student_id=cast.ben.pk, action="update")
    assert audit.details["reason"] == "Family moved"
    assert "Lincoln Elementary: 1 letter" in client.get(page).content.decode()
    # and approves and prints Lincoln's batch
    answer = client.post(page, {"print": cast.lincoln.pk}, follow=True)
    assert "Printed: 1 letter for Lincoln Elementary." in answer.content.decode()
    # then the PDF holds the cover sheet and María's letter alone, and can be downloaded
    batch = Message.objects.get(guardian=families.maria).letter_batch
    pdf = pypdf.PdfReader(tmp_path / batch.pdf)
    assert len(pdf.pages) == 2
    assert "Linh Brooks" not in pdf.pages[1].extract_text()
    download = client.get(reverse("outreach:letter-batch-file", args=[batch.pk, "pdf"]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content).startswith(b"%PDF")
    assert "No letters wait to be printed." in client.get(page).content.decode()


def fonts_on(page) -> set[str]:
    """The fonts a PDF page draws with (their base names, without the subset prefix)."""
    fonts = page["/Resources"]["/Font"]
    return {str(fonts[name].get_object()["/BaseFont"]).split("+")[-1] for name in fonts}


def test_chinese_and_arabic_letters_print_in_their_scripts_across_chunks(
    cast, families, third_grade, settings, tmp_path, monkeypatch
):
    settings.DATA_DIR = tmp_path
    # one letter a chunk, rendered by two worker processes, as a large batch is
    monkeypatch.setattr(letters, "CHUNK", 1)
    settings.LETTER_PROCESSES = 2
    families.maria.preferred_language = "zh"
    families.maria.save()
    nudge_only(cast, share=1.0)
    do_evaluate_triggers(cast.district, as_of=cast.today, now=six_am(cast))
    batch = do_print_letters(cast.admin, school_id=cast.lincoln.pk)
    pdf = pypdf.PdfReader(tmp_path / batch.pdf)
    # the cover and the two letters, in order, in one PDF
    assert len(pdf.pages) == 3
    assert "Letters (one page each) 2" in pdf.pages[0].extract_text()
    chinese, arabic = pdf.pages[1], pdf.pages[2]
    # María's letter in Chinese, drawn with a CJK font (not boxes for missing glyphs)
    assert "一位典型的同班同学缺课 2 天" in chinese.extract_text().replace("\n", "")
    assert "Noto-Sans-CJK-SC" in fonts_on(chinese)
    assert f"{cast.today.year}年{cast.today.month}月{cast.today.day}日" in chinese.extract_text()
    # Linh's in Arabic, still with its own glyphs
    assert "تغيّب" in arabic.extract_text() or "تغي" in arabic.extract_text()
    assert f"{batch.pk}-2" in arabic.extract_text()
