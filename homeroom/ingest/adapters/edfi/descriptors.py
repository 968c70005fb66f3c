"""Ed-Fi descriptor values and what they mean in Homeroom, and the text rules of Ed-Fi values."""

import datetime as dt
import re
from decimal import Decimal

# Keys are descriptor CodeValues, lower case (`descriptor_key`).
CATEGORIES: dict[str, tuple[str, Decimal]] = {
    "in attendance": ("present", Decimal(0)),
    "present": ("present", Decimal(0)),
    "excused absence": ("excused", Decimal(1)),
    "unexcused absence": ("unexcused", Decimal(1)),
    "tardy": ("tardy", Decimal(0)),
    "early departure": ("early_departure", Decimal(0)),
    "partial": ("partial", Decimal("0.5")),
    "out of school suspension": ("oss", Decimal(1)),
    "out-of-school suspension": ("oss", Decimal(1)),
    "in school suspension": ("iss", Decimal(0)),
    "in-school suspension": ("iss", Decimal(0)),
    "attendance not taken": ("not_taken", Decimal(0)),
    "not taken": ("not_taken", Decimal(0)),
}
CALENDAR_KINDS = {
    "instructional day": "instructional",
    "student late arrival/early dismissal": "instructional",
    "make-up day": "makeup",
    "makeup day": "makeup",
    "holiday": "holiday",
    "teacher only day": "staff",
    "staff day": "staff",
    "weekend": "weekend",
    "emergency day": "other",
    "strike": "other",
    "weather day": "other",
    "non-instructional day": "other",
    "other": "other",
}
SCHOOL_LEVELS = {
    "elementary school": "elementary",
    "primary school": "elementary",
    "middle school": "middle",
    "junior high school": "middle",
    "high school": "high",
    "secondary school": "high",
}
SEXES = {"female": "F", "male": "M", "non-binary": "X", "nonbinary": "X", "not selected": "U"}
RACES = {
    "americanindianalaskanative": "american_indian",
    "americanindianoralaskanative": "american_indian",
    "asian": "asian",
    "blackafricanamerican": "black",
    "blackorafricanamerican": "black",
    "nativehawaiianpacificislander": "pacific_islander",
    "nativehawaiianorotherpacificislander": "pacific_islander",
    "white": "white",
    "choosenottorespond": "",
    "other": "",
}
LANGUAGE_CODES = {
    "en": ("eng", "en", "english"),
    "es": ("spa", "es", "spanish", "spanish; castilian"),
    "zh": ("zho", "chi", "cmn", "yue", "zh", "chinese", "mandarin", "cantonese"),
    "vi": ("vie", "vi", "vietnamese"),
    "ar": ("ara", "ar", "arabic"),
    "ht": ("hat", "ht", "haitian", "haitian creole", "haitian; haitian creole"),
    "so": ("som", "so", "somali"),
    "ru": ("rus", "ru", "russian"),
    "pt": ("por", "pt", "portuguese"),
}
LANGUAGES_BY_NAME = {name: code for code, names in LANGUAGE_CODES.items() for name in names}
LANGUAGE_USES = ("home language", "native language", "dominant language", "spoken language")
CHARACTERISTICS = {
    "economic disadvantaged": "econ_disadvantaged",
    "economically disadvantaged": "econ_disadvantaged",
    "low income": "econ_disadvantaged",
    "homeless": "homeless",
    "migrant": "migrant",
    "migratory": "migrant",
    "foster care": "foster_care",
    "section 504 handicapped": "section_504",
    "section 504": "section_504",
    "limited english proficiency": "english_learner",
    "english learner": "english_learner",
    "students with disabilities": "iep",
}
PROGRAM_TYPES = {
    "special education": "iep",
    "bilingual": "english_learner",
    "bilingual summer": "english_learner",
    "english as a second language (esl)": "english_learner",
    "section 504 placement": "section_504",
    "homeless": "homeless",
    "migrant education": "migrant",
}
LIMITED_ENGLISH = {"limited", "limited monitored 1", "limited monitored 2", "english learner"}
RELATIONS = {
    "mother": "mother",
    "father": "father",
    "stepmother": "mother",
    "stepfather": "father",
    "legal guardian": "guardian",
    "guardian": "guardian",
    "court appointed guardian": "guardian",
    "grandmother": "grandparent",
    "grandfather": "grandparent",
    "grandparent": "grandparent",
    "foster parent": "foster_parent",
    "foster mother": "foster_parent",
    "foster father": "foster_parent",
}
ADDRESS_TYPES = ("home", "physical", "mailing")
DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(T00:00:00(\.0+)?Z?)?$")
YEAR_SPAN = re.compile(r"^(\d{4})-(\d{4})$")


def code_value(text: str) -> str:
    """The CodeValue of a descriptor given as a URI (`uri://ns/NameDescriptor#Code`) or bare."""
    return text.rpartition("#")[2].strip() if "#" in text else text.strip()


def descriptor_key(text: str) -> str:
    """A descriptor CodeValue as a lookup key: lower case, single spaces."""
    return " ".join(code_value(text).lower().split())


def digits(text: str) -> int | None:
    """The whole number ASCII digits write, else None ('²' and '①' are digits to isdigit())."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() else None


def school_year_of(day: dt.date) -> str:
    """The school year holding a date by the July 1 rule, e.g. 2021-09-01 -> "2021-2022"."""
    first = day.year if day.month >= 7 else day.year - 1
    return f"{first}-{first + 1}"
