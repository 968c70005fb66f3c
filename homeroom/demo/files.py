"""The generated district's CSV files and their columns, in order (docs/generator.md).

The generator builds its tables with these columns, the export writes them, the loader reads
them.
"""

# Every file of the format and its columns, in the order written (docs/generator.md lists
# the same). Each file refers only to files before it.
COLUMNS: dict[str, tuple[str, ...]] = {
    "district": ("name", "state", "timezone"),
    "schools": ("school_id", "state_id", "name", "level", "lowest_grade", "highest_grade"),
    "school_years": ("school_year", "start_date", "end_date"),
    "calendar_dates": ("school_id", "school_year", "date", "kind"),
    "students": (
        "student_id",
        "state_id",
        "first_name",
        "middle_name",
        "last_name",
        "birth_date",
        "grade",
        "gender",
        "race_ethnicity",
        "home_language",
    ),
    "student_characteristics": ("student_id", "characteristic", "start_date", "end_date"),
    "guardians": (
        "guardian_id",
        "first_name",
        "last_name",
        "phone",
        "email",
        "address_line",
        "city",
        "state",
        "postal_code",
        "preferred_language",
    ),
    "contact_preferences": ("guardian_id", "channel", "preferred", "consent"),
    "student_guardians": (
        "student_id",
        "guardian_id",
        "relationship",
        "contact_priority",
        "lives_with",
    ),
    "enrollments": (
        "student_id",
        "school_id",
        "school_year",
        "grade",
        "entry_date",
        "exit_date",
        "exit_reason",
    ),
    "staff": ("staff_id", "first_name", "last_name", "school_id", "email"),
    "sections": (
        "school_id",
        "school_year",
        "section_id",
        "name",
        "period",
        "is_homeroom",
        "teacher_id",
        "grade",
    ),
    "section_enrollments": (
        "student_id",
        "school_id",
        "school_year",
        "section_id",
        "start_date",
        "end_date",
    ),
    "attendance_codes": ("code", "description", "category", "day_fraction"),
    "attendance_events": (
        "student_id",
        "school_id",
        "date",
        "code",
        "day_fraction",
        "minutes_missed",
        "reason",
    ),
}
FILE_STEMS = tuple(COLUMNS)

# The interventions history (cases, contacts, ...): no SIS exports it, so it is not part of
# the CSV format; a JSON file beside it, read by `loading.load_intervention_history`.
HISTORY_FILE = "interventions.json"
