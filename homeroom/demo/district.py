"""A synthetic school district drawn from a seed: schools, calendars, families, enrollments,
homerooms and daily attendance with the patterns real districts show (docs/generator.md).

Pure Python and numpy, no Django, so it runs anywhere and fast: attendance is drawn as a
students x school-days matrix per school year, in chunks of students, never day by day.
The output is a function of (seed, students, schools, years, today) alone: every random
draw comes from a stream named by its purpose, the school year and the chunk, so no draw
depends on how many were made before it elsewhere.
"""

import datetime as dt
import functools
import math
import unicodedata
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from homeroom.demo import history
from homeroom.demo.files import COLUMNS

# ---------------------------------------------------------------------------------------
# Parameters

CHUNK_STUDENTS = 8192  # student-years per attendance matrix: about 12 MB of float32 each
INSTRUCTIONAL_DAYS = 180
EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
MISSING = -1


@dataclass(frozen=True)
class DistrictParameters:
    """What to generate; the output depends on these values and nothing else."""

    students: int = 5000
    schools: int | None = None  # None: one school per ~625 students (8 for 5,000)
    years: int = 3
    seed: int = 0
    today: dt.date = field(default_factory=dt.date.today)
    name: str = "Riverbend Public Schools"
    state: str = "MA"
    timezone: str = "America/New_York"
    # Per intervention type (playbook key): the factor on each preventable absence's chance
    # from the intervention's start to the end of that school year; types not listed have
    # no effect. Defaults and what they mean: docs/generator.md, "Planted effects".
    planted_effects: tuple[tuple[str, float], ...] = history.PLANTED_EFFECTS
    # Per intervention type: days recovered per student in the `planted_weeks` weeks after
    # its start (docs/generator.md, "Planted days"), for validating the impact estimates.
    planted_days: tuple[tuple[str, float], ...] = ()
    planted_weeks: int = 6
    # How absences move within a year: "steady" (a student's propensity holds all year) or
    # "shifting" (drift, shocks at home, a bad month at a school). docs/generator.md,
    # "Dynamics".
    dynamics: str = "steady"

    def __post_init__(self) -> None:
        """Refuse values the generator cannot honour, with a message a user can act on."""
        if self.students < 1:
            raise ValueError("students must be at least 1")
        if self.schools is not None and self.schools < 1:
            raise ValueError("schools must be at least 1")
        if self.years < 1:
            raise ValueError("years must be at least 1")
        if self.seed < 0:
            raise ValueError("seed must be zero or positive")
        if not 1950 + self.years <= self.today.year <= 2200:
            raise ValueError("today must be a date between 1950 and 2200, after the first year")
        if self.dynamics not in DYNAMICS:
            raise ValueError(f"dynamics must be one of: {', '.join(DYNAMICS)}")
        kinds = [kind for kind, _factor in self.planted_effects]
        if len(set(kinds)) != len(kinds):
            raise ValueError("planted_effects names an intervention type twice")
        if not all(0 < factor <= 1 for _kind, factor in self.planted_effects):
            raise ValueError("planted effects must be factors above 0 and at most 1")
        days = [kind for kind, _days in self.planted_days]
        if len(set(days)) != len(days) or set(days) & set(kinds):
            raise ValueError(
                "planted_days names an intervention type twice, or one planted_effects names"
            )
        if not all(0 < value <= 30 for _kind, value in self.planted_days):
            raise ValueError("planted days must be above 0 and at most 30 per student")
        if not 1 <= self.planted_weeks <= 20:
            raise ValueError("planted_weeks must be from 1 to 20")

    @property
    def school_count(self) -> int:
        """The number of schools: as given, or one per ~625 students."""
        if self.schools is not None:
            return self.schools
        return max(1, round(self.students / STUDENTS_PER_SCHOOL))


# ---------------------------------------------------------------------------------------
# Reference lists: the district's make-up

LANGUAGES = ("en", "es", "zh", "vi", "ar", "ht", "so", "pt", "ru")
LANGUAGE_SHARES = (0.70, 0.19, 0.025, 0.02, 0.015, 0.02, 0.01, 0.012, 0.008)
RACES = (
    "hispanic",
    "american_indian",
    "asian",
    "black",
    "pacific_islander",
    "white",
    "two_or_more",
    "unknown",
)
RACE_SHARES_BY_LANGUAGE = {
    "en": {
        "white": 0.52,
        "black": 0.22,
        "hispanic": 0.11,
        "asian": 0.04,
        "two_or_more": 0.08,
        "american_indian": 0.01,
        "pacific_islander": 0.005,
        "unknown": 0.015,
    },
    "es": {"hispanic": 0.97, "white": 0.02, "two_or_more": 0.01},
    "zh": {"asian": 0.97, "two_or_more": 0.03},
    "vi": {"asian": 0.97, "two_or_more": 0.03},
    "ar": {"white": 0.85, "two_or_more": 0.1, "unknown": 0.05},
    "ht": {"black": 0.97, "two_or_more": 0.03},
    "so": {"black": 0.98, "two_or_more": 0.02},
    "pt": {"white": 0.5, "hispanic": 0.3, "two_or_more": 0.2},
    "ru": {"white": 0.97, "two_or_more": 0.03},
}
GENDERS = ("F", "M", "X", "U")
GENDER_SHARES = (0.485, 0.495, 0.007, 0.013)

# Name lists per name group: (female first names, male first names, last names).
NAMES = {
    "english": (
        "Olivia Emma Ava Charlotte Sophia Amelia Mia Evelyn Harper Abigail Emily Elizabeth "
        "Ella Avery Scarlett Grace Chloe Madison Riley Layla Zoey Nora Lily Hannah Addison "
        "Aubrey Brooklyn Claire Natalie Aaliyah Jasmine Imani Kayla Destiny Maya Alexis "
        "Taylor Morgan Jada Nevaeh Savannah Kennedy Paige Brianna",
        "Liam Noah Oliver Elijah James William Benjamin Lucas Henry Alexander Mason Michael "
        "Ethan Daniel Jacob Logan Jackson Levi Sebastian Jack Owen Samuel Wyatt John David "
        "Carter Isaiah Jayden Jaylen Malik Andre Marcus Xavier Caleb Dylan Ryan Nathan "
        "Tyler Brandon Darius Cameron Connor Jeremiah",
        "Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Thomas Moore "
        "Martin Jackson Thompson White Harris Clark Lewis Robinson Walker Young Allen King "
        "Wright Scott Hill Green Adams Baker Nelson Carter Mitchell Roberts Campbell Parker "
        "Evans Edwards Collins Stewart Murphy Cook Rogers Cooper Peterson Bailey Reed Kelly "
        "Howard Sullivan O'Brien Washington Brooks Bennett Gray Price Hughes Foster Sanders "
        "Coleman Perry Powell Long Patterson Jenkins Russell Butler Barnes Fisher Henderson "
        "Ross McCarthy Doyle Walsh Gallagher",
    ),
    "hispanic": (
        "Sofía Valentina Camila Isabella Lucía Mariana Gabriela Daniela Valeria Ximena "
        "Natalia Ana Paola Andrea Fernanda Jimena Renata Victoria María Guadalupe "
        "Alejandra Yesenia Genesis Dayana Karla",
        "Mateo Santiago Sebastián Diego Alejandro Daniel Miguel Luis Carlos José Juan Jesús "
        "Emiliano Leonardo Gael Adrián Javier Fernando Ricardo Eduardo Andrés Julián "
        "Kevin Bryan Anthony",
        "García Rodríguez Martínez Hernández López González Pérez Sánchez Ramírez Torres "
        "Flores Rivera Gómez Díaz Cruz Morales Reyes Gutiérrez Ortiz Ramos Vargas Castillo "
        "Jiménez Moreno Romero Mendoza Aguilar Vásquez Medina Herrera Santiago Colón "
        "Figueroa Rosario Soto Delgado",
    ),
    "chinese": (
        "Mei Ling Xinyi Yuxuan Zihan Jiayi Yutong Ruoxi Wen Yan Hui Lan",
        "Wei Hao Jun Zihao Yichen Haoran Ming Jie Bo Lei Kai Tao",
        "Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo Lin He Gao Luo",
    ),
    "vietnamese": (
        "Linh Ngoc Trang Mai Thao Huong Anh Vy Nhi Quynh Tien Yen",
        "Minh Huy Khoa Duc Tuan Nam Bao Long Phuc Khang Thanh Hieu",
        "Nguyen Tran Le Pham Hoang Huynh Phan Vu Vo Dang Bui Do Ho Ngo Duong Ly",
    ),
    "arabic": (
        "Fatima Mariam Aisha Layla Noor Zainab Huda Amira Yasmin Salma Hana Rania",
        "Mohammed Ahmed Omar Ali Yusuf Ibrahim Hassan Khaled Adam Karim Hamza Tariq",
        "Haddad Khalil Mansour Nasser Saleh Hamdan Aziz Farah Hussein Abdullah Suleiman "
        "Darwish Mahmoud Qasim",
    ),
    "haitian": (
        "Widlene Mirlande Nadège Roseline Fabienne Guerline Stephanie Sabrina Daphnée "
        "Wislande Esther Naika",
        "Jean Wilson Jameson Peterson Ricardo Dieudonné Frantz Ronald Evens Kervens Jonas Emmanuel",
        "Pierre Jean-Baptiste Joseph Louis Charles François Saint-Fleur Dorvil Étienne "
        "Alexis Desir Celestin Augustin Toussaint",
    ),
    "somali": (
        "Hodan Fadumo Ayaan Sagal Hibo Ifrah Nasra Ubah Ilhan Khadija Asha Muna",
        "Abdi Mohamed Ahmed Abdirahman Hassan Farah Ismail Mahad Liban Osman Yusuf Bashir",
        "Ali Hassan Mohamed Abdi Farah Warsame Osman Ahmed Jama Hersi Yusuf Omar Egal Noor",
    ),
    "portuguese": (
        "Ana Beatriz Mariana Júlia Larissa Gabriela Camila Isabela Letícia Fernanda",
        "João Pedro Lucas Gabriel Matheus Rafael Thiago Felipe Gustavo Bruno",
        "Silva Santos Oliveira Souza Pereira Costa Ferreira Almeida Carvalho Rodrigues Lima Gomes",
    ),
    "russian": (
        "Anastasia Sofia Maria Daria Polina Alina Ksenia Elena Victoria Yulia",
        "Alexander Dmitri Maxim Ivan Nikita Artem Mikhail Sergei Andrei Pavel",
        "Ivanov Smirnov Kuznetsov Popov Sokolov Lebedev Kozlov Novikov Morozov Petrov Volkov Orlov",
    ),
}
NAME_GROUPS = tuple(NAMES)
NAME_GROUP_OF_LANGUAGE = (
    "english",
    "hispanic",
    "chinese",
    "vietnamese",
    "arabic",
    "haitian",
    "somali",
    "portuguese",
    "russian",
)
# Chance that a child of a family speaking this language at home has an English first name.
ENGLISH_FIRST_NAME_SHARE = (1.0, 0.3, 0.5, 0.45, 0.15, 0.3, 0.1, 0.3, 0.35)

STREETS = (
    "Maple",
    "Elm",
    "Oak",
    "Pine",
    "Cedar",
    "Walnut",
    "Chestnut",
    "Spruce",
    "Birch",
    "Willow",
    "Main",
    "Church",
    "School",
    "Mill",
    "River",
    "Bridge",
    "Pleasant",
    "Summer",
    "Winter",
    "Park",
    "Lincoln",
    "Washington",
    "Franklin",
    "Jefferson",
    "Adams",
    "Highland",
    "Prospect",
    "Union",
    "Central",
    "Broad",
    "Water",
    "Spring",
    "Lake",
    "Hillside",
    "Orchard",
    "Meadow",
)
STREET_SUFFIXES = ("St", "Ave", "Rd", "Ln", "Ct", "Way", "Pl", "Ter")
CITIES = (("Riverbend", "01950"), ("North Riverbend", "01951"), ("Millbrook", "01952"))
AREA_CODES = ("978", "781", "617")
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")

# Namesakes of schools, per level; a larger district reuses them with North/South/West.
SCHOOL_NAMESAKES = {
    "elementary": (
        "Lincoln",
        "Harriet Tubman",
        "Maple Street",
        "Clara Barton",
        "Oak Hill",
        "Riverside",
        "Roberto Clemente",
        "Willow Brook",
        "Sunnyside",
        "Phillis Wheatley",
        "Amelia Earhart",
        "Jackie Robinson",
        "Pine Ridge",
        "Cedar Grove",
        "Lakeview",
        "Hillcrest",
        "Brookside",
        "Meadowbrook",
        "Fairview",
        "Ruby Bridges",
        "Grace Hopper",
        "Sally Ride",
        "Helen Keller",
        "Mill Pond",
        "Orchard Hill",
        "Stony Brook",
        "Greenwood",
        "Spring Valley",
        "Elm Park",
        "Louisa May Alcott",
    ),
    "middle": (
        "Frederick Douglass",
        "Rachel Carson",
        "Eastview",
        "Westfield",
        "Cesar Chavez",
        "Mary McLeod Bethune",
        "Thurgood Marshall",
        "Langston Hughes",
        "Maya Angelou",
        "Dolores Huerta",
        "Benjamin Banneker",
        "Eleanor Roosevelt",
        "Horace Mann",
        "Emily Dickinson",
        "Paul Revere",
    ),
    "high": (
        "Riverbend",
        "Northside",
        "Central",
        "Millbrook",
        "Southside",
        "Crispus Attucks",
        "Susan B. Anthony",
        "Booker T. Washington",
        "Henry David Thoreau",
        "John Adams",
        "Westside",
        "Lakeside",
    ),
}
NAMESAKE_PREFIXES = ("", "North ", "South ", "West ", "East ")
DYNAMICS = ("steady", "shifting")
# "shifting": each student's propensity drifts through the year (log-slope ~ N(0, DRIFT));
# SHOCK_SHARE of students a year meet a shock at home on a random day that multiplies
# their absences by SHOCK for the rest of the year; BAD_MONTH_SHARE of schools a year have
# a bad stretch of BAD_MONTH_DAYS school days (a flu outbreak, a building closed in parts,
# a staff crisis) with absences x BAD_MONTH.
DRIFT = 0.8
SHOCK_SHARE, SHOCK = 0.08, 3.0
BAD_MONTH_SHARE, BAD_MONTH_DAYS, BAD_MONTH = 0.4, 20, 1.6
STUDENTS_PER_SCHOOL = 625  # when the number of schools is not given

# Characteristic kinds, as homeroom.roster StudentCharacteristic.Kind values.
CHARACTERISTICS = (
    "iep",
    "section_504",
    "english_learner",
    "foster_care",
    "homeless",
    "econ_disadvantaged",
    "migrant",
)
IEP, S504, EL, FOSTER, HOMELESS, ECON, MIGRANT = range(len(CHARACTERISTICS))
FAMILY_CHARACTERISTICS = frozenset({HOMELESS, ECON, MIGRANT})
# How much more often a student holding the characteristic is absent (disparities).
ABSENCE_MULTIPLIER = (1.3, 1.15, 1.0, 1.4, 1.8, 1.3, 1.3)
# (start at year start, start mid-year, end mid-year, end at year end), per year.
CHARACTERISTIC_CHANGES = (
    (0.0, 0.012, 0.0, 0.03),
    (0.0, 0.006, 0.0, 0.02),
    (0.0, 0.0, 0.02, 0.14),
    (0.0, 0.002, 0.25, 0.1),
    (0.01, 0.012, 0.3, 0.3),
    (0.03, 0.01, 0.0, 0.04),
    (0.0, 0.0, 0.0, 0.15),
)

# Attendance codes: (code, description, category, default share of the day).
ATTENDANCE_CODES = (
    ("A", "Unexcused absence", "unexcused", 1.0),
    ("U", "Unverified absence (no note received)", "unexcused", 1.0),
    ("E", "Excused absence (parent note)", "excused", 1.0),
    ("ILL", "Illness", "excused", 1.0),
    ("MED", "Medical or dental appointment", "excused", 1.0),
    ("REL", "Religious observance", "excused", 1.0),
    ("BRV", "Bereavement", "excused", 1.0),
    ("TRN", "Transportation: school bus did not run", "excused", 1.0),
    ("OSS", "Out-of-school suspension", "oss", 1.0),
    ("ISS", "In-school suspension", "iss", 0.0),
    ("T", "Tardy", "tardy", 0.0),
    ("TE", "Tardy, excused", "tardy", 0.0),
    ("HD", "Half-day absence", "partial", 0.5),
    ("ED", "Early dismissal", "early_departure", 0.25),
    ("FT", "Field trip or school activity", "present", 0.0),
    ("NT", "Attendance not taken", "not_taken", 0.0),
)
CODE_NUMBER = {row[0]: number for number, row in enumerate(ATTENDANCE_CODES, start=1)}
# Reasons staff type in, per code, and the share of events left without one.
REASONS = {
    "ILL": (0.45, ("Fever", "Flu", "Stomach bug", "Cold", "Strep throat", "Sick", "Asthma")),
    "MED": (0.3, ("Doctor appointment", "Dentist", "Therapy appointment", "Orthodontist")),
    "E": (0.5, ("Family emergency", "Family travel", "Parent called", "Court date")),
    "REL": (0.3, ("Religious holiday",)),
    "BRV": (0.3, ("Funeral", "Death in the family")),
    "A": (0.85, ("No call", "Skipped school")),
    "U": (0.9, ("Message left for family",)),
    "T": (0.75, ("Overslept", "Missed the bus", "Traffic", "Car trouble")),
    "TE": (0.2, ("Bus late", "Doctor appointment")),
    "HD": (0.4, ("Appointment", "Family matter")),
    "ED": (0.3, ("Picked up by parent", "Sent home sick", "Medical appointment")),
}
MINUTES_IN_DAY = 390

GRADES = np.arange(13)  # K = 0 ... 12
# Relative enrollment per grade: a ninth-grade bulge, fewer seniors.
GRADE_WEIGHTS = np.array(
    [1.02, 1.0, 1.0, 0.99, 0.99, 0.98, 0.98, 0.97, 0.97, 1.04, 0.97, 0.93, 0.9]
)
# Absence rises in kindergarten and through high school, worst in 11-12.
GRADE_ABSENCE = np.array(
    [1.3, 1.1, 1.0, 0.95, 0.95, 0.95, 1.0, 1.05, 1.1, 1.3, 1.4, 1.55, 1.7], dtype=np.float32
)
GRADE_TARDY = np.array(
    [1.1, 1.1, 1.0, 0.9, 0.9, 0.9, 0.9, 1.0, 1.1, 1.3, 1.4, 1.5, 1.6], dtype=np.float32
)
RETENTION = np.array([0.03, 0.02, 0.01, 0.008, 0.008, 0.006, 0.006, 0.008, 0.008, 0.05, 0.02, 0.02])
# Share of illness among absences, by grade: little children are sick, teenagers skip.
ILLNESS_SHARE = np.array(
    [0.62, 0.6, 0.6, 0.58, 0.56, 0.55, 0.52, 0.5, 0.48, 0.42, 0.4, 0.37, 0.35], dtype=np.float32
)
# Chance that a non-illness absence is excused (a note arrives), by grade.
EXCUSED_SHARE = np.array(
    [0.6, 0.6, 0.58, 0.58, 0.56, 0.55, 0.5, 0.47, 0.45, 0.38, 0.35, 0.33, 0.32], dtype=np.float32
)
BUS_RIDER_SHARE = {"elementary": 0.55, "middle": 0.5, "high": 0.4, "other": 0.5}
RIDERS_PER_ROUTE = 45
ROUTE_DISRUPTION_RATE = 0.005  # about one day a year per route
ABSENT_WHEN_BUS_FAILS = 0.35
HOMEROOM_SIZE = {"elementary": 22, "middle": 26, "high": 26, "other": 24}

# The latent absence rate: log-normal, skewed, shared partly within a family.
LOG_RATE_MEAN = math.log(0.028)
LOG_RATE_FAMILY_SD = 0.5
LOG_RATE_STUDENT_SD = 0.6
LOG_RATE_YEAR_SD = 0.25
# Absence days of one episode: a sick child often misses two or three days in a row.
ILLNESS_LONGER_THAN = (0.55, 0.25, 0.08)  # P(length > 1), P(> 2), P(> 3)
OTHER_LONGER_THAN = (0.12,)
# Day-of-week effect on non-illness absences, Monday first.
WEEKDAY_ABSENCE = np.array([1.3, 0.85, 0.8, 0.9, 1.35, 1.0, 1.0], dtype=np.float32)
WEEKDAY_TARDY = np.array([1.2, 0.95, 0.9, 0.95, 1.0, 1.0, 1.0], dtype=np.float32)
BEFORE_LONG_WEEKEND = 1.5
BEFORE_BREAK = 2.0

# Population flows, per year.
SUMMER_LEAVERS = 0.045  # families leaving the district between years
WITHDRAWALS = 0.028  # families moving out of the district during the year
MOVES = 0.045  # families moving within the district (some change school)
MID_YEAR_ENTRANTS = 0.035  # new students arriving during the year, as a share of students
DROPOUTS = 0.012  # high-school students leaving school, scaled by their absence
GRADUATION = 0.93
SIBLING_SHARE = 0.2  # share of new students who join a family created in the same batch

EXIT_REASONS = (
    "",
    "end_of_year",
    "graduated",
    "transferred_in_district",
    "moved_out_of_district",
    "dropped_out",
)
END_OF_YEAR, GRADUATED, TRANSFERRED, MOVED_AWAY, DROPPED_OUT = range(1, 6)


def _stream(seed: int, *names: object) -> np.random.Generator:
    """A random stream named by its purpose: independent of every other stream's use."""
    keys = [seed]
    for name in names:
        keys.append(name if isinstance(name, int) else zlib.crc32(str(name).encode()))
    return np.random.default_rng(np.random.SeedSequence(keys))


def _choice(rng: np.random.Generator, size: int, shares) -> np.ndarray:
    """Indexes drawn with the given shares (normalised)."""
    cumulative = np.cumsum(np.asarray(shares, dtype=float))
    return np.searchsorted(cumulative / cumulative[-1], rng.random(size), side="right")


# ---------------------------------------------------------------------------------------
# Schools


@dataclass(frozen=True)
class SchoolPlan:
    """One school: its identifiers, level and grade span."""

    local_id: str
    state_id: str
    name: str
    level: str
    lowest_grade: int
    highest_grade: int


def plan_schools(count: int) -> list[SchoolPlan]:
    """Half elementary (K-5), a quarter middle (6-8), the rest high (9-12); K-8/K-12 if few."""
    if count == 1:
        return [SchoolPlan("101", "0101", "Riverbend Community School", "other", 0, 12)]
    if count == 2:
        return [
            SchoolPlan("101", "0101", "Riverbend K-8 School", "other", 0, 8),
            SchoolPlan("301", "0301", "Riverbend High", "high", 9, 12),
        ]
    elementary = max(1, count // 2)
    middle = max(1, (count - elementary) // 2)
    high = count - elementary - middle
    plans = []
    for level, number, prefix, lowest, highest in (
        ("elementary", elementary, 1, 0, 5),
        ("middle", middle, 2, 6, 8),
        ("high", high, 3, 9, 12),
    ):
        namesakes = SCHOOL_NAMESAKES[level]
        for k in range(number):
            cycle, namesake = divmod(k, len(namesakes))
            name = f"{_cycle_prefix(cycle)}{namesakes[namesake]} {level.title()}"
            local_id = f"{prefix}{k + 1:02d}"
            plans.append(SchoolPlan(local_id, f"0{local_id}", name, level, lowest, highest))
    return plans


def _cycle_prefix(cycle: int) -> str:
    """North, South, ... for the second, third use of a namesake; then a number."""
    if cycle < len(NAMESAKE_PREFIXES):
        return NAMESAKE_PREFIXES[cycle]
    return f"{cycle + 1} "


def _letters(number: int) -> str:
    """Section letters: A..Z, then AA, AB..."""
    text = ""
    number += 1
    while number:
        number, rest = divmod(number - 1, 26)
        text = chr(65 + rest) + text
    return text


# ---------------------------------------------------------------------------------------
# Calendars

KINDS = ("instructional", "makeup", "holiday", "staff", "weekend", "other")
INSTRUCTIONAL, MAKEUP, HOLIDAY, STAFF, WEEKEND, OTHER = range(len(KINDS))


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    """The n-th given weekday of a month (n = -1: the last one)."""
    if n > 0:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    last = following - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def first_student_day(start_year: int) -> dt.date:
    """The Wednesday of the week whose Monday falls on August 16-22."""
    monday = dt.date(start_year, 8, 16)
    monday += dt.timedelta(days=(-monday.weekday()) % 7)
    return monday + dt.timedelta(days=2)


def school_year_start(start_year: int) -> dt.date:
    """The first staff day: the Thursday before the first student day (four staff days)."""
    return first_student_day(start_year) - dt.timedelta(days=6)


def school_year_start_years(today: dt.date, years: int) -> list[int]:
    """Start years of the generated school years; the last one holds `today` (or precedes it)."""
    last = today.year if today >= school_year_start(today.year) else today.year - 1
    return list(range(last - years + 1, last + 1))


def _days_off(start_year: int) -> tuple[dict[dt.date, int], set[dt.date]]:
    """The district's holidays and staff days, and the elementary conference days."""
    y, z = start_year, start_year + 1
    off: dict[dt.date, int] = {}
    first = first_student_day(y)
    for back in (1, 2, 5, 6):  # Mon, Tue of the first week; Thu, Fri before it
        off[first - dt.timedelta(days=back)] = STAFF
    off[_nth_weekday(y, 9, 0, 1)] = HOLIDAY  # Labor Day
    off[_nth_weekday(y, 10, 0, 2)] = STAFF  # Indigenous Peoples' Day: professional day
    off[_nth_weekday(y, 11, 0, 1) + dt.timedelta(days=1)] = STAFF  # Election Day
    veterans = dt.date(y, 11, 11)
    if veterans.weekday() < 5:
        off[veterans] = HOLIDAY
    thanksgiving = _nth_weekday(y, 11, 3, 4)
    for delta in (-1, 0, 1):
        off[thanksgiving + dt.timedelta(days=delta)] = HOLIDAY
    christmas = dt.date(y, 12, 25)
    break_start = christmas - dt.timedelta(days=christmas.weekday())  # Monday of its week
    day = break_start
    while day < break_start + dt.timedelta(days=14) or day <= dt.date(z, 1, 1):
        if day.weekday() < 5:
            off[day] = HOLIDAY
        day += dt.timedelta(days=1)
    new_year = dt.date(z, 1, 1)
    if new_year.weekday() == 6:
        off[new_year + dt.timedelta(days=1)] = HOLIDAY  # observed on Monday
    mlk = _nth_weekday(z, 1, 0, 3)
    off[mlk] = HOLIDAY
    off[mlk - dt.timedelta(days=3)] = STAFF  # end of the first semester: grading day
    off[_nth_weekday(z, 2, 0, 3)] = HOLIDAY  # Presidents Day
    off[_nth_weekday(z, 3, 4, 1)] = STAFF  # professional day
    spring = _nth_weekday(z, 4, 0, 2)
    for delta in range(5):
        off[spring + dt.timedelta(days=delta)] = HOLIDAY
    off[_nth_weekday(z, 5, 0, -1)] = HOLIDAY  # Memorial Day
    juneteenth = dt.date(z, 6, 19)
    if juneteenth.weekday() < 5:
        off[juneteenth] = HOLIDAY
    conferences = {_nth_weekday(y, 10, 3, 3), _nth_weekday(z, 3, 3, 2)}
    return off, conferences


@dataclass
class YearCalendar:
    """A school year's dates, their kinds per school level, and its school-day columns.

    Columns are the district's instructional days; attendance matrices have one column per
    school day, so weekends and holidays never cost memory or time.
    """

    start_year: int
    name: str
    start: dt.date
    end: dt.date
    dates: np.ndarray  # ordinals of every date, start..end
    kinds: dict[str, np.ndarray]  # level -> kind number per date
    columns: np.ndarray  # ordinals of the district's instructional days
    instructional: dict[str, np.ndarray]  # level -> bool per column
    common: np.ndarray  # column numbers instructional at every level
    weekday: np.ndarray  # per column, Monday = 0
    month: np.ndarray  # per column
    before_break: np.ndarray  # multiplier per column


def build_calendar(start_year: int) -> YearCalendar:
    """The district calendar of the school year starting in August of `start_year`."""
    off, conferences = _days_off(start_year)
    start = school_year_start(start_year)
    day, counted, district, elementary, dates = start, 0, [], [], []
    while counted < INSTRUCTIONAL_DAYS:
        kind = WEEKEND if day.weekday() >= 5 else off.get(day, INSTRUCTIONAL)
        if kind == INSTRUCTIONAL:
            counted += 1
        dates.append(day.toordinal())
        district.append(kind)
        elementary.append(OTHER if kind == INSTRUCTIONAL and day in conferences else kind)
        day += dt.timedelta(days=1)
    while day.weekday() >= 5 or off.get(day) == HOLIDAY:
        dates.append(day.toordinal())
        district.append(WEEKEND if day.weekday() >= 5 else HOLIDAY)
        elementary.append(district[-1])
        day += dt.timedelta(days=1)
    dates.append(day.toordinal())  # the teachers' last day
    district.append(STAFF)
    elementary.append(STAFF)
    dates_array = np.array(dates, dtype=np.int64)
    kinds = {"district": np.array(district, dtype=np.int8)}
    kinds["elementary"] = np.array(elementary, dtype=np.int8)
    column_mask = kinds["district"] == INSTRUCTIONAL
    columns = dates_array[column_mask]
    instructional = {
        "district": np.ones(len(columns), dtype=bool),
        "elementary": kinds["elementary"][column_mask] == INSTRUCTIONAL,
    }
    gaps = np.diff(columns, append=columns[-1] + 60) - 1
    before_break = np.where(gaps >= 5, BEFORE_BREAK, np.where(gaps >= 3, BEFORE_LONG_WEEKEND, 1))
    return YearCalendar(
        start_year=start_year,
        name=f"{start_year}-{start_year + 1}",
        start=start,
        end=day,
        dates=dates_array,
        kinds=kinds,
        columns=columns,
        instructional=instructional,
        common=np.flatnonzero(instructional["elementary"]),
        weekday=(columns + 6) % 7,  # date.fromordinal(1) is a Monday: ordinal 1 -> 0
        month=np.array([dt.date.fromordinal(int(c)).month for c in columns]),
        before_break=before_break.astype(np.float32),
    )


def _calendar_level(level: str) -> str:
    """Which calendar variant a school level follows."""
    return "elementary" if level == "elementary" else "district"


# ---------------------------------------------------------------------------------------
# The population: students, families, characteristics


class _Population:
    """Students and families created so far, as growing columns."""

    def __init__(self) -> None:
        self.student: dict[str, np.ndarray] = {}
        self.family: dict[str, np.ndarray] = {}
        self.held = np.zeros((len(CHARACTERISTICS), 0), dtype=np.int64)  # open span starts
        self.closed: list[tuple[np.ndarray, int, np.ndarray, np.ndarray]] = []

    @property
    def students(self) -> int:
        """How many students exist so far."""
        return len(self.student.get("family", ()))

    @property
    def families(self) -> int:
        """How many families exist so far."""
        return len(self.family.get("zone", ()))

    def _append(self, table: dict[str, np.ndarray], columns: dict[str, np.ndarray]) -> None:
        for name, values in columns.items():
            table[name] = np.concatenate([table[name], values]) if name in table else values

    def add_families(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """New families with a home language, race, last name, income and zone."""
        language = _choice(rng, count, LANGUAGE_SHARES)
        race_shares = np.array(
            [[RACE_SHARES_BY_LANGUAGE[lang].get(r, 0) for r in RACES] for lang in LANGUAGES]
        )
        race_cumulative = np.cumsum(race_shares, axis=1)
        race_cumulative /= race_cumulative[:, -1:]
        race = (rng.random(count)[:, None] > race_cumulative[language]).sum(axis=1)
        name_group = np.array(
            [NAME_GROUPS.index(NAME_GROUP_OF_LANGUAGE[lang]) for lang in range(len(LANGUAGES))]
        )[language]
        english = language == 0
        hispanic = race == RACES.index("hispanic")
        asian = race == RACES.index("asian")
        name_group[english & hispanic] = NAME_GROUPS.index("hispanic")
        name_group[english & asian] = np.where(
            rng.random(int((english & asian).sum())) < 0.5,
            NAME_GROUPS.index("chinese"),
            NAME_GROUPS.index("vietnamese"),
        )
        econ_share = np.where(
            english,
            np.select(
                [race == RACES.index("white"), race == RACES.index("asian")], [0.25, 0.3], 0.55
            ),
            np.array([0.3, 0.7, 0.35, 0.45, 0.55, 0.72, 0.8, 0.55, 0.25])[language],
        )
        econ = rng.random(count) < econ_share
        first = self.families
        self._append(
            self.family,
            {
                "zone": rng.random(count),
                "language": language,
                "race": race,
                "name_group": name_group,
                "last_name": _pick_names(rng, name_group, np.full(count, 2)),
                "econ": econ,
                "homeless": rng.random(count) < np.where(econ, 0.045, 0.004),
                "migrant": rng.random(count)
                < np.select([language == 1, language == 7], [0.05, 0.02], 0),
                "log_rate": LOG_RATE_MEAN + rng.normal(0, LOG_RATE_FAMILY_SD, count),
                "note_habit": rng.beta(6, 2, count),
                "guardians": np.where(rng.random(count) < 0.65, 2, 1),
                "address": _addresses(rng, count),
                "city": rng.integers(0, len(CITIES), count),
            },
        )
        return np.arange(first, first + count)

    def add_students(
        self, rng: np.random.Generator, grades: np.ndarray, cohort_start: int
    ) -> np.ndarray:
        """New students of the given grades, in new families (some siblings share one)."""
        count = len(grades)
        if count == 0:
            return np.zeros(0, dtype=np.int64)
        own = max(1, count - round(count * SIBLING_SHARE))
        families = self.add_families(rng, own)
        family = np.concatenate([families, rng.choice(families, count - own)])
        group = self.family["name_group"][family]
        language = self.family["language"][family]
        english_name = rng.random(count) < np.asarray(ENGLISH_FIRST_NAME_SHARE)[language]
        first_group = np.where(english_name, 0, group)
        gender = _choice(rng, count, GENDER_SHARES)
        name_sex = np.where(gender >= 2, rng.integers(0, 2, count), gender)
        middle = _pick_names(rng, first_group, name_sex)
        middle[rng.random(count) < 0.45] = ""
        # Age 5 on September 1 in kindergarten, later birthdays spread over the year.
        birth = (
            dt.date(cohort_start, 9, 1).toordinal()
            - 365 * (5 + grades)
            - rng.integers(1, 365, count)
            - (rng.random(count) < 0.06) * 365
        )
        first_id = self.students
        self._append(
            self.student,
            {
                "family": family,
                "first_name": _pick_names(rng, first_group, name_sex),
                "middle_name": middle,
                "gender": gender,
                "birth": birth,
                "log_rate": self.family["log_rate"][family]
                + rng.normal(0, LOG_RATE_STUDENT_SD, count),
                "tardy": np.exp(rng.normal(math.log(0.02), 0.9, count)),
                "discipline": np.exp(rng.normal(0, 0.8, count)),
                "rider": rng.random(count),
                "foster_at_entry": np.zeros(count, dtype=bool),
            },
        )
        self.held = np.concatenate(
            [self.held, np.full((len(CHARACTERISTICS), count), MISSING, dtype=np.int64)], axis=1
        )
        return np.arange(first_id, first_id + count)

    def open_characteristics(
        self, rng: np.random.Generator, students: np.ndarray, grades: np.ndarray, on: np.ndarray
    ) -> None:
        """Characteristics new students hold on arrival, starting on their entry date."""
        family = self.student["family"][students]
        language = self.family["language"][family]
        count = len(students)
        el_share = np.select([grades <= 2, grades <= 5, grades <= 8], [0.75, 0.55, 0.4], 0.32)
        shares = {
            IEP: np.select([grades == 0, grades <= 8], [0.07, 0.13], 0.12),
            S504: np.select([grades <= 5, grades <= 8], [0.02, 0.04], 0.05),
            EL: np.where(language == 0, 0.004, el_share),
            FOSTER: np.full(count, 0.004),
        }
        for kind, share in shares.items():
            holds = rng.random(count) < share
            self.held[kind, students[holds]] = on[holds]
            if kind == FOSTER:
                self.student["foster_at_entry"][students[holds]] = True
        for kind, column in ((HOMELESS, "homeless"), (ECON, "econ"), (MIGRANT, "migrant")):
            holds = self.family[column][family]
            self.held[kind, students[holds]] = on[holds]

    def close_characteristics(self, students: np.ndarray, on: np.ndarray) -> None:
        """End every open characteristic of students leaving the district."""
        for kind in range(len(CHARACTERISTICS)):
            open_ = self.held[kind, students] != MISSING
            if open_.any():
                who = students[open_]
                self.closed.append((who, kind, self.held[kind, who], on[open_]))
                self.held[kind, who] = MISSING


def _pick_names(rng: np.random.Generator, groups: np.ndarray, sex: np.ndarray) -> np.ndarray:
    """Names from each group's list: sex 0 female first names, 1 male, 2 last names."""
    names = np.empty(len(groups), dtype=object)
    for g, group in enumerate(NAME_GROUPS):
        for s in range(3):
            mask = (groups == g) & (sex == s)
            if mask.any():
                choices = np.array(NAMES[group][s].split(), dtype=object)
                names[mask] = choices[rng.integers(0, len(choices), int(mask.sum()))]
    return names


def _addresses(rng: np.random.Generator, count: int) -> np.ndarray:
    """Street addresses: a number, a street and a suffix, some with an apartment."""
    number = rng.integers(1, 1200, count)
    street = rng.integers(0, len(STREETS), count)
    suffix = rng.integers(0, len(STREET_SUFFIXES), count)
    apartment = np.where(rng.random(count) < 0.25, rng.integers(1, 40, count), 0)
    return np.array(
        [
            f"{n} {STREETS[s]} {STREET_SUFFIXES[x]}" + (f" Apt {a}" if a else "")
            for n, s, x, a in zip(
                number.tolist(), street.tolist(), suffix.tolist(), apartment.tolist(), strict=True
            )
        ],
        dtype=object,
    )


# ---------------------------------------------------------------------------------------
# One school year of enrollment


@dataclass
class _YearRoster:
    """Every student enrolled at some point of one school year: one row per student.

    A row holds up to two spans: the first school (a) and, after a transfer, the second (b).
    Entry and exit are column numbers (school days) of the year's calendar.
    """

    student: np.ndarray
    grade: np.ndarray
    school_a: np.ndarray
    entry_a: np.ndarray
    exit_a: np.ndarray
    reason_a: np.ndarray
    school_b: np.ndarray
    entry_b: np.ndarray
    exit_b: np.ndarray
    reason_b: np.ndarray
    log_rate: np.ndarray
    # Per characteristic, the first and last ordinal held during this year.
    held_from: np.ndarray
    held_to: np.ndarray

    @property
    def stays(self) -> np.ndarray:
        """Rows still enrolled on the last day and not graduating."""
        last = np.where(self.school_b >= 0, self.reason_b, self.reason_a)
        return last == END_OF_YEAR


@dataclass
class _Schools:
    """Where each grade goes to school, and each school's bus routes."""

    plans: list[SchoolPlan]
    levels: np.ndarray  # calendar variant per school: "elementary" or "district"
    by_grade: list[np.ndarray]  # grade -> school numbers serving it, in zone order
    effect: np.ndarray  # per-school absence multiplier
    expected: np.ndarray  # students expected per school, from the parameters
    routes: np.ndarray  # routes per school
    route_offset: np.ndarray

    def school_of(self, grade: np.ndarray, zone: np.ndarray) -> np.ndarray:
        """The school of each student: their zone picks one school of their grade band."""
        school = np.zeros(len(grade), dtype=np.int64)
        for g in range(13):
            mask = grade == g
            if mask.any():
                choices = self.by_grade[g]
                school[mask] = choices[
                    np.minimum((zone[mask] * len(choices)).astype(int), len(choices) - 1)
                ]
        return school

    def route_of(
        self, school: np.ndarray, zone: np.ndarray, grade: np.ndarray, rider: np.ndarray
    ) -> np.ndarray:
        """The bus route each student rides (MISSING for walkers and those driven)."""
        bands = np.array([len(self.by_grade[g]) for g in range(13)])[grade]
        position = zone * bands - np.floor(zone * bands)
        route = self.route_offset[school] + (position * self.routes[school]).astype(np.int64)
        share = np.array([BUS_RIDER_SHARE[p.level] for p in self.plans])[school]
        return np.where(rider < share, route, MISSING)


def _plan_schools(params: DistrictParameters) -> _Schools:
    """School plans, feeder bands, school effects and bus routes."""
    plans = plan_schools(params.school_count)
    rng = _stream(params.seed, "schools")
    by_grade = [
        np.array([k for k, p in enumerate(plans) if p.lowest_grade <= g <= p.highest_grade])
        for g in range(13)
    ]
    effect = np.exp(rng.normal(0, 0.15, len(plans)))
    expected = np.zeros(len(plans))
    for g in range(13):
        expected[by_grade[g]] += (
            params.students * GRADE_WEIGHTS[g] / GRADE_WEIGHTS.sum() / len(by_grade[g])
        )
    riders = expected * np.array([BUS_RIDER_SHARE[p.level] for p in plans])
    routes = np.maximum(1, np.round(riders / RIDERS_PER_ROUTE)).astype(np.int64)
    return _Schools(
        plans=plans,
        expected=expected,
        levels=np.array([_calendar_level(p.level) for p in plans]),
        by_grade=by_grade,
        effect=effect.astype(np.float32),
        routes=routes,
        route_offset=np.concatenate([[0], np.cumsum(routes)[:-1]]),
    )


def _simulate_year(
    params: DistrictParameters,
    population: _Population,
    schools: _Schools,
    calendar: YearCalendar,
    previous: _YearRoster | None,
    previous_calendar: YearCalendar | None,
) -> _YearRoster:
    """Who is enrolled where during one school year: promotions, arrivals, moves, exits."""
    rng = _stream(params.seed, "enrollment", calendar.start_year)
    students, families = population.student, population.family
    last_column = len(calendar.columns) - 1
    target = params.students
    weights = GRADE_WEIGHTS / GRADE_WEIGHTS.sum()

    # Who comes back: last year's stayers, less families leaving over the summer.
    if previous is None:
        returning = np.zeros(0, dtype=np.int64)
        returning_grade = np.zeros(0, dtype=np.int64)
    else:
        stays = previous.stays
        returning = previous.student[stays]
        family_leaves = rng.random(population.families) < SUMMER_LEAVERS
        leaves = family_leaves[students["family"][returning]]
        last_day = np.full(int(leaves.sum()), previous_calendar.columns[-1], dtype=np.int64)
        population.close_characteristics(returning[leaves], last_day)
        retained = rng.random(len(returning)) < RETENTION[np.minimum(previous.grade[stays], 11)]
        returning_grade = previous.grade[stays] + np.where(retained, 0, 1)
        returning, returning_grade = returning[~leaves], returning_grade[~leaves]
        returning_grade = np.minimum(returning_grade, 12)

    # Who arrives for the first day: kindergartners, then enough others to keep the size.
    if previous is None:
        new_grades = GRADES[_choice(rng, target, weights)]
    else:
        kindergarten = round(float(target * weights[0] * rng.normal(1.0, 0.03)))
        others = max(0, target - len(returning) - kindergarten)
        new_grades = np.concatenate(
            [np.zeros(kindergarten, dtype=np.int64), 1 + _choice(rng, others, weights[1:])]
        )
    newcomers = population.add_students(rng, new_grades, calendar.start_year)
    late = np.where(rng.random(len(newcomers)) < 0.04, rng.integers(1, 6, len(newcomers)), 0)
    newcomer_entry = calendar.common[np.minimum(late, len(calendar.common) - 1)]

    # Who arrives during the year: new families, siblings arriving together.
    mid_count = round(target * MID_YEAR_ENTRANTS) if last_column > 20 else 0
    mid_grades = GRADES[_choice(rng, mid_count, weights)]
    arrivals = population.add_students(rng, mid_grades, calendar.start_year)
    arrival_choices = calendar.common[
        (calendar.common >= 5) & (calendar.common <= last_column - 15)
    ]
    if len(arrival_choices) == 0:
        arrival_choices = calendar.common[:1]
    family_entry = arrival_choices[rng.integers(0, len(arrival_choices), population.families)]
    arrival_entry = family_entry[students["family"][arrivals]]

    student = np.concatenate([returning, newcomers, arrivals])
    grade = np.concatenate([returning_grade, new_grades, mid_grades]).astype(np.int64)
    entry = np.concatenate(
        [np.zeros(len(returning), dtype=np.int64), newcomer_entry, arrival_entry]
    ).astype(np.int64)
    order = np.argsort(student, kind="stable")
    student, grade, entry = student[order], grade[order], entry[order]
    count = len(student)
    family = students["family"][student]
    population.open_characteristics(
        rng,
        np.concatenate([newcomers, arrivals]),
        np.concatenate([new_grades, mid_grades]),
        calendar.columns[np.concatenate([newcomer_entry, arrival_entry]).astype(np.int64)],
    )

    # What happens to families during the year: some move away, some move within the district.
    draw = rng.random(population.families)
    movable = calendar.common[(calendar.common >= 10) & (calendar.common <= last_column - 5)]
    if len(movable) == 0:
        movable = calendar.common[-1:]
    family_day = movable[rng.integers(0, len(movable), population.families)]
    new_zone = rng.random(population.families)
    gap = rng.integers(1, 4, population.families)
    from_first_day = entry == 0  # arrivals during the year stay put this year

    school_a = schools.school_of(grade, families["zone"][family])
    exit_a = np.full(count, last_column, dtype=np.int64)
    reason_a = np.full(count, END_OF_YEAR, dtype=np.int64)
    school_b = np.full(count, MISSING, dtype=np.int64)
    entry_b = np.full(count, MISSING, dtype=np.int64)
    exit_b = np.full(count, MISSING, dtype=np.int64)
    reason_b = np.zeros(count, dtype=np.int64)

    away = from_first_day & (draw[family] < WITHDRAWALS)
    exit_a[away] = family_day[family[away]]
    reason_a[away] = MOVED_AWAY

    log_rate = students["log_rate"][student]
    drop_share = DROPOUTS * np.clip(np.exp(log_rate - LOG_RATE_MEAN), 0.2, 5)
    drops = from_first_day & ~away & (grade >= 9) & (rng.random(count) < drop_share)
    exit_a[drops] = movable[rng.integers(0, len(movable), int(drops.sum()))]
    reason_a[drops] = DROPPED_OUT

    moving_family = (draw >= WITHDRAWALS) & (draw < WITHDRAWALS + MOVES)
    moves = from_first_day & ~away & ~drops & moving_family[family]
    moved_school = schools.school_of(grade, np.where(moves, new_zone[family], 0.0))
    common_position = np.searchsorted(calendar.common, family_day[family])
    arrival_position = np.minimum(common_position + gap[family], len(calendar.common) - 1)
    transfers = moves & (moved_school != school_a) & (arrival_position > common_position)
    exit_a[transfers] = family_day[family[transfers]]
    reason_a[transfers] = TRANSFERRED
    school_b[transfers] = moved_school[transfers]
    entry_b[transfers] = calendar.common[arrival_position[transfers]]
    exit_b[transfers] = last_column
    reason_b[transfers] = END_OF_YEAR
    moving_families = np.unique(family[moves])
    families["zone"][moving_families] = new_zone[moving_families]

    # Seniors still enrolled on the last day graduate, most of them.
    finishing = np.where(school_b >= 0, reason_b, reason_a) == END_OF_YEAR
    graduates = finishing & (grade == 12) & (rng.random(count) < GRADUATION)
    reason_b[graduates & (school_b >= 0)] = GRADUATED
    reason_a[graduates & (school_b < 0)] = GRADUATED

    roster = _YearRoster(
        student=student,
        grade=grade,
        school_a=school_a,
        entry_a=entry,
        exit_a=exit_a,
        reason_a=reason_a,
        school_b=school_b,
        entry_b=entry_b,
        exit_b=exit_b,
        reason_b=reason_b,
        log_rate=log_rate + rng.normal(0, LOG_RATE_YEAR_SD, count),
        held_from=np.zeros((len(CHARACTERISTICS), count), dtype=np.int64),
        held_to=np.zeros((len(CHARACTERISTICS), count), dtype=np.int64),
    )
    _change_characteristics(rng, population, calendar, roster)
    return roster


def _change_characteristics(
    rng: np.random.Generator,
    population: _Population,
    calendar: YearCalendar,
    roster: _YearRoster,
) -> None:
    """Characteristics gained and lost during the year, and the span held in it per row."""
    count, days = len(roster.student), len(calendar.columns)
    family = population.student["family"][roster.student]
    last_exit = np.where(roster.school_b >= 0, roster.exit_b, roster.exit_a)
    first_day, last_day = int(calendar.columns[0]), int(calendar.columns[-1])
    rows = np.flatnonzero(roster.entry_a == 0)  # arrivals keep what they came with this year
    who = roster.student[rows]
    stays_to_end = last_exit[rows] == days - 1
    for kind, (start_sy, start_mid, end_mid, end_eoy) in enumerate(CHARACTERISTIC_CHANGES):
        held = population.held[kind]
        # Family characteristics (income, housing) change for the whole family at once.
        if kind in FAMILY_CHARACTERISTICS:
            draw = rng.random(population.families)[family[rows]]
            column = rng.integers(10, max(11, days - 10), population.families)[family[rows]]
        else:
            draw = rng.random(count)[rows]
            column = rng.integers(10, max(11, days - 10), count)[rows]
        on = calendar.columns[np.minimum(column, last_exit[rows])]
        holder = held[who] != MISSING
        gain_first_day = ~holder & (draw < start_sy)
        gain_later = ~holder & (draw >= start_sy) & (draw < start_sy + start_mid)
        held[who[gain_first_day]] = first_day
        held[who[gain_later]] = on[gain_later]
        lose_later = holder & (draw < end_mid) & (on >= held[who])
        lose_last_day = holder & ~lose_later & (draw < end_mid + end_eoy) & stays_to_end
        now = held[roster.student]
        roster.held_from[kind] = now
        roster.held_to[kind] = np.where(now != MISSING, last_day, MISSING)
        for lose, end in ((lose_later, on), (lose_last_day, np.full(len(rows), last_day))):
            losing = who[lose]
            population.closed.append((losing, kind, held[losing].copy(), end[lose]))
            roster.held_to[kind, rows[lose]] = end[lose]
            held[losing] = MISSING
    # Students leaving the district close what they hold on their last day.
    leaving = ~roster.stays
    population.close_characteristics(roster.student[leaving], calendar.columns[last_exit[leaving]])


# ---------------------------------------------------------------------------------------
# Attendance of one school year, chunk by chunk


@dataclass
class _Events:
    """Attendance events of a set of student-days: parallel columns."""

    student: np.ndarray
    school: np.ndarray
    date: np.ndarray  # ordinal
    code: np.ndarray  # number in ATTENDANCE_CODES, from 1
    day_fraction: np.ndarray  # float, NaN when the code's default applies
    minutes: np.ndarray  # MISSING when not stated
    reason: np.ndarray  # index in the reason table, 0 = none


def _reason_table(schools: _Schools) -> tuple[list[str], dict[int, tuple[int, int, float]]]:
    """Every reason text, and per code number its (offset, count, share left blank)."""
    table = [""]
    by_code: dict[int, tuple[int, int, float]] = {}
    for code, (blank, texts) in REASONS.items():
        by_code[CODE_NUMBER[code]] = (len(table), len(texts), blank)
        table.extend(texts)
    by_code[CODE_NUMBER["TRN"]] = (len(table), 0, 0.0)  # route reasons follow, one per route
    for plan, routes in zip(schools.plans, schools.routes.tolist(), strict=True):
        table.extend(f"Bus {plan.local_id}-{k + 1:02d} did not run" for k in range(routes))
    return table, by_code


def _season(rng: np.random.Generator, calendar: YearCalendar) -> np.ndarray:
    """Illness by date: a winter wave peaking around the start of February."""
    peak = dt.date(calendar.start_year + 1, 1, 31).toordinal() + rng.integers(-12, 13)
    strength = rng.uniform(1.0, 1.4)
    wave = 1 + strength * np.exp(-0.5 * ((calendar.columns - peak) / 20.0) ** 2)
    colds = dt.date(calendar.start_year, 11, 15).toordinal()
    wave += 0.25 * np.exp(-0.5 * ((calendar.columns - colds) / 25.0) ** 2)  # autumn colds
    return (wave / wave.mean()).astype(np.float32)


def _shifts(rng: np.random.Generator, n: int, days: int) -> np.ndarray:
    """The "shifting" dynamics per student and school day: drift and shocks at home."""
    slope = rng.normal(0, DRIFT, n).astype(np.float32)
    along = np.linspace(-0.5, 0.5, days, dtype=np.float32)
    factor = np.exp(slope[:, None] * along[None, :])
    shocked = rng.random(n) < SHOCK_SHARE
    start = rng.integers(0, max(days, 1), n)
    after = shocked[:, None] & (np.arange(days)[None, :] >= start[:, None])
    return np.where(after, factor * np.float32(SHOCK), factor)


def _bad_months(rng: np.random.Generator, schools: int, days: int) -> np.ndarray:
    """The "shifting" dynamics per school and school day: a bad stretch at some schools."""
    factor = np.ones((schools, days), dtype=np.float32)
    for school in np.flatnonzero(rng.random(schools) < BAD_MONTH_SHARE):
        start = int(rng.integers(0, max(days - BAD_MONTH_DAYS, 1)))
        factor[school, start : start + BAD_MONTH_DAYS] = BAD_MONTH
    return factor


def _extend(starts: np.ndarray, codes: np.ndarray, longer: np.ndarray, shares) -> np.ndarray:
    """Episodes as codes on consecutive school days: day k continues if the episode is long."""
    out = np.where(starts, codes, 0).astype(np.int8)
    for k, share in enumerate(shares, start=1):
        continuing = starts[:, :-k] & (longer[:, :-k] < share)
        shifted = np.where(continuing, codes[:, :-k], 0).astype(np.int8)
        tail = out[:, k:]
        out[:, k:] = np.where(tail == 0, shifted, tail)
    return out


def _attendance_chunk(
    rng: np.random.Generator,
    population: _Population,
    schools: _Schools,
    calendar: YearCalendar,
    roster: _YearRoster,
    rows: slice,
    season: np.ndarray,
    disruption: np.ndarray,
    reasons: dict[int, tuple[int, int, float]],
    route_reason_offset: int,
    shifting: tuple[np.random.Generator, np.ndarray] | None = None,
) -> _Events:
    """Events of a chunk of the roster: one matrix of students x school days per process.

    `shifting`: with the "shifting" dynamics, its own random stream (so the steady
    district's draws are untouched) and the schools' factor per school day."""
    student = roster.student[rows]
    n, days = len(student), len(calendar.columns)
    family = population.student["family"][student]
    grade = roster.grade[rows]
    column = np.arange(days)[None, :]

    # Where each student is on each school day (MISSING when not enrolled).
    in_a = (column >= roster.entry_a[rows, None]) & (column <= roster.exit_a[rows, None])
    in_b = (column >= roster.entry_b[rows, None]) & (column <= roster.exit_b[rows, None])
    in_b &= roster.school_b[rows, None] >= 0
    school = np.where(
        in_a, roster.school_a[rows, None], np.where(in_b, roster.school_b[rows, None], MISSING)
    )
    school = school.astype(np.int16)
    open_ = np.stack([calendar.instructional[level] for level in schools.levels])
    enrolled = (school >= 0) & open_[np.maximum(school, 0), column]
    zone = population.family["zone"][family]
    rider = population.student["rider"][student]
    route_a = schools.route_of(roster.school_a[rows], zone, grade, rider)
    route_b = schools.route_of(np.maximum(roster.school_b[rows], 0), zone, grade, rider)
    route = np.where(in_a, route_a[:, None], np.where(in_b, route_b[:, None], MISSING))

    # Each student's daily absence hazard: their latent rate times who and where they are.
    rate = np.exp(roster.log_rate[rows]).astype(np.float32) * GRADE_ABSENCE[grade]
    level = np.ones((n, days), dtype=np.float32)
    for kind, multiplier in enumerate(ABSENCE_MULTIPLIER):
        if multiplier == 1.0:
            continue
        held_from, held_to = roster.held_from[kind, rows], roster.held_to[kind, rows]
        who = np.flatnonzero(held_to >= calendar.columns[0])
        if len(who):
            held = (calendar.columns >= held_from[who, None]) & (
                calendar.columns <= held_to[who, None]
            )
            level[who] *= np.where(held, np.float32(multiplier), np.float32(1))
    level *= rate[:, None] * schools.effect[np.maximum(school, 0)]
    if shifting is not None:
        level *= _shifts(shifting[0], n, days) * shifting[1][np.maximum(school, 0), column]
    illness = ILLNESS_SHARE[grade][:, None]
    day_effect = WEEKDAY_ABSENCE[calendar.weekday] * calendar.before_break
    day_effect = day_effect / day_effect.mean()
    mean_illness = 1 + sum(ILLNESS_LONGER_THAN)
    mean_other = 1 + sum(OTHER_LONGER_THAN)
    sick_hazard = level * illness * (season / mean_illness)
    other_hazard = level * (1 - illness) * (day_effect / mean_other)

    codes = np.zeros((n, days), dtype=np.int8)
    note = population.family["note_habit"][family].astype(np.float32)[:, None]

    # Tardies, then partial days: the least serious first, so absences overwrite them.
    winter = np.where(np.isin(calendar.month, (12, 1, 2)), 1.2, 1.0).astype(np.float32)
    tardy_rate = population.student["tardy"][student].astype(np.float32) * GRADE_TARDY[grade]
    draw = rng.random((n, days), dtype=np.float32)
    tardy_hazard = tardy_rate[:, None] * (WEEKDAY_TARDY[calendar.weekday] * winter)
    tardy = draw < tardy_hazard
    codes[tardy] = np.where(
        draw[tardy] < 0.15 * tardy_hazard[tardy], CODE_NUMBER["TE"], CODE_NUMBER["T"]
    )
    iep = roster.held_to[IEP, rows] >= calendar.columns[0]
    partial_rate = np.where(iep, 0.011, 0.007).astype(np.float32)
    draw = rng.random((n, days), dtype=np.float32)
    partial_row, partial_col = np.nonzero(draw < partial_rate[:, None])
    codes[partial_row, partial_col] = np.where(
        draw[partial_row, partial_col] < 0.6 * partial_rate[partial_row],
        CODE_NUMBER["ED"],
        CODE_NUMBER["HD"],
    )
    level_of_school = np.array([p.level for p in schools.plans])
    secondary = np.isin(level_of_school[roster.school_a[rows]], ("middle", "high")) | (grade >= 6)
    discipline = population.student["discipline"][student] * np.where(iep, 1.6, 1.0)
    _incidents(rng, codes, np.where(secondary, 0.06, 0.01) * discipline, (1, 2), (0.7, 0.3), "ISS")

    # Other absences: Monday/Friday and before breaks; excused when a note arrives.
    draw = rng.random((n, days), dtype=np.float32)
    starts = draw < other_hazard
    relative = draw / np.maximum(other_hazard, 1e-9)
    excused = relative < note * EXCUSED_SHARE[grade][:, None] / 0.75
    which = rng.random((n, days), dtype=np.float32)
    longer = rng.random((n, days), dtype=np.float32)
    excused_code = np.select(
        [which < 0.75, which < 0.9, which < 0.97],
        [CODE_NUMBER["E"], CODE_NUMBER["MED"], CODE_NUMBER["REL"]],
        CODE_NUMBER["BRV"],
    ).astype(np.int8)
    unexcused_code = np.where(which < 0.75, CODE_NUMBER["A"], CODE_NUMBER["U"]).astype(np.int8)
    other = _extend(
        starts, np.where(excused, excused_code, unexcused_code), longer, OTHER_LONGER_THAN
    )
    codes = np.where(other > 0, other, codes)

    # Illness: episodes of one to four days, heavier in the winter wave.
    draw = rng.random((n, days), dtype=np.float32)
    starts = draw < sick_hazard
    relative = draw / np.maximum(sick_hazard, 1e-9)
    noted = relative < note
    which = rng.random((n, days), dtype=np.float32)
    sick_code = np.select(
        [which < 0.72, which < 0.87], [CODE_NUMBER["ILL"], CODE_NUMBER["MED"]], CODE_NUMBER["E"]
    ).astype(np.int8)
    longer = rng.random((n, days), dtype=np.float32)
    sick = _extend(
        starts,
        np.where(noted, sick_code, CODE_NUMBER["U"]).astype(np.int8),
        longer,
        ILLNESS_LONGER_THAN,
    )
    codes = np.where(sick > 0, sick, codes)

    # Bus routes that did not run: many of their riders stay home.
    draw = rng.random((n, days), dtype=np.float32)
    stranded = (
        (route >= 0) & disruption[np.maximum(route, 0), column] & (draw < ABSENT_WHEN_BUS_FAILS)
    )
    codes[stranded] = CODE_NUMBER["TRN"]

    # Out-of-school suspensions, mostly in middle and high school.
    _incidents(
        rng,
        codes,
        np.where(secondary, 0.05, 0.006) * discipline,
        (1, 2, 3, 5, 10),
        (0.4, 0.2, 0.2, 0.15, 0.05),
        "OSS",
    )

    codes[~enrolled] = 0
    row, col = np.nonzero(codes)
    code = codes[row, col]
    count = len(row)

    # Details staff record: minutes late or gone, share of the day, a reason.
    minutes = np.full(count, MISSING, dtype=np.int64)
    fraction = np.full(count, np.nan)
    is_tardy = (code == CODE_NUMBER["T"]) | (code == CODE_NUMBER["TE"])
    minutes[is_tardy] = 5 + 5 * rng.geometric(0.35, int(is_tardy.sum()))
    is_early = code == CODE_NUMBER["ED"]
    early_minutes = rng.integers(30, 241, int(is_early.sum()))
    minutes[is_early] = early_minutes
    fraction[is_early] = np.round(early_minutes / MINUTES_IN_DAY, 3)
    is_half = code == CODE_NUMBER["HD"]
    stated = is_half & (rng.random(count) < 0.3)
    half_minutes = rng.integers(100, 300, int(stated.sum()))
    minutes[stated] = half_minutes
    fraction[stated] = np.round(half_minutes / MINUTES_IN_DAY, 3)
    reason = np.zeros(count, dtype=np.int64)
    draw = rng.random(count)
    for number, (offset, texts, blank) in reasons.items():
        mine = code == number
        if texts and mine.any():
            pick = offset + ((draw[mine] - blank) / (1 - blank) * texts).astype(np.int64)
            reason[mine] = np.where(draw[mine] < blank, 0, np.minimum(pick, offset + texts - 1))
    bus = code == CODE_NUMBER["TRN"]
    reason[bus] = route_reason_offset + route[row[bus], col[bus]]

    return _Events(
        student=student[row],
        school=school[row, col].astype(np.int64),
        date=calendar.columns[col],
        code=code.astype(np.int64),
        day_fraction=fraction,
        minutes=minutes,
        reason=reason,
    )


def _incidents(
    rng: np.random.Generator,
    codes: np.ndarray,
    share: np.ndarray,
    lengths: tuple[int, ...],
    weights: tuple[float, ...],
    code: str,
) -> None:
    """Mark up to two incidents per student as runs of school days with one code."""
    n, days = codes.shape
    for _ in range(2):
        who = np.flatnonzero(rng.random(n) < share / 1.3)
        start = rng.integers(0, days, len(who))
        length = np.asarray(lengths)[_choice(rng, len(who), weights)]
        for k in range(max(lengths)):
            on = (length > k) & (start + k < days)
            codes[who[on], start[on] + k] = CODE_NUMBER[code]
        share = share * 0.3  # a second incident is rarer


# ---------------------------------------------------------------------------------------
# The whole district


@dataclass
class Table:
    """One output file's rows as named columns (numpy arrays), possibly in several parts.

    Dates are `datetime64[D]` (NaT = blank), optional numbers are floats (NaN = blank),
    text is an object array (empty string = blank).
    """

    columns: tuple[str, ...]
    parts: list[dict[str, np.ndarray]] = field(default_factory=list)

    @property
    def rows(self) -> int:
        """How many rows the table holds."""
        return sum(len(part[self.columns[0]]) for part in self.parts)


@dataclass
class GeneratedDistrict:
    """A generated district: its parameters, tables by file stem, and the school years."""

    parameters: DistrictParameters
    school_years: list[str]
    tables: dict[str, Table]
    # The interventions history (interventions.json; docs/generator.md).
    history: dict = field(default_factory=dict)

    @property
    def student_count(self) -> int:
        """Students in the output (ever enrolled before `today`)."""
        return self.tables["students"].rows

    @property
    def event_count(self) -> int:
        """Attendance events in the output."""
        return self.tables["attendance_events"].rows


ProgressCallback = Callable[[str, int, int], None]


def generate_district(
    params: DistrictParameters, *, on_progress: ProgressCallback | None = None
) -> GeneratedDistrict:
    """Generate the district described by `params` (see docs/generator.md)."""
    report = on_progress or (lambda stage, done, total: None)
    today = params.today.toordinal()
    schools = _plan_schools(params)
    population = _Population()
    start_years = school_year_start_years(params.today, params.years)
    calendars = [build_calendar(year) for year in start_years]

    rosters: list[_YearRoster] = []
    for k, calendar in enumerate(calendars):
        report("enrollment", k, len(calendars))
        rosters.append(
            _simulate_year(
                params,
                population,
                schools,
                calendar,
                rosters[-1] if rosters else None,
                calendars[k - 1] if k else None,
            )
        )
    report("enrollment", len(calendars), len(calendars))

    reason_texts, reasons = _reason_table(schools)
    route_reason_offset = reasons[CODE_NUMBER["TRN"]][0]
    total = sum(len(r.student) for r in rosters)
    done = 0
    events: list[_Events] = []
    effects = dict(params.planted_effects)
    planted = history.PlantedDays(dict(params.planted_days), params.planted_weeks)
    record = history.plan_staff(
        functools.partial(_stream, params.seed), schools.plans, schools.expected, STAFF_DOMAIN
    )
    for calendar, roster in zip(calendars, rosters, strict=True):
        year_rng = _stream(params.seed, "attendance", calendar.start_year)
        season = _season(year_rng, calendar)
        disruption = year_rng.random((int(schools.routes.sum()), len(calendar.columns))) < (
            ROUTE_DISRUPTION_RATE
        )
        bad_months = None
        if params.dynamics == "shifting":
            bad_months = _bad_months(
                _stream(params.seed, "shifting", calendar.start_year),
                len(schools.plans),
                len(calendar.columns),
            )
        parts = []
        for chunk, begin in enumerate(range(0, len(roster.student), CHUNK_STUDENTS)):
            rows = slice(begin, begin + CHUNK_STUDENTS)
            rng = _stream(params.seed, "attendance", calendar.start_year, chunk)
            shifting = None
            if bad_months is not None:
                shifting = (
                    _stream(params.seed, "shifting", calendar.start_year, chunk),
                    bad_months,
                )
            parts.append(
                _attendance_chunk(
                    rng,
                    population,
                    schools,
                    calendar,
                    roster,
                    rows,
                    season,
                    disruption,
                    reasons,
                    route_reason_offset,
                    shifting,
                )
            )
            done += len(roster.student[rows])
            report("attendance", done, total)
        year = _Events(*(np.concatenate([getattr(p, f) for p in parts]) for f in _EVENT_FIELDS))
        # The year's history is decided on its whole attendance, then its planted effects
        # thin the absences after each effective intervention's start.
        keep = history.decide_year(
            functools.partial(_stream, params.seed),
            record,
            _year_view(population, schools, calendar, roster),
            {
                "student": year.student,
                "date": year.date,
                "code": year.code,
                "day_fraction": year.day_fraction,
            },
            _text([""] + [c[0] for c in ATTENDANCE_CODES]),
            {k: (p.lowest_grade, p.highest_grade) for k, p in enumerate(schools.plans)},
            effects,
            planted,
        )
        keep &= year.date < today  # the snapshot ends the day before `today`
        events.append(_Events(*(getattr(year, f)[keep] for f in _EVENT_FIELDS)))

    tables = _tables(params, population, schools, calendars, rosters, events, reason_texts)
    return GeneratedDistrict(
        parameters=params,
        school_years=[c.name for c in calendars],
        tables=tables,
        history=_finish_history(record, params, tables, population.students, effects),
    )


STAFF_DOMAIN = "riverbend.example.org"


def _student_ids(count: int) -> np.ndarray:
    """Students' local ids, by student number."""
    return _text([str(104000 + k) for k in range(count)])


_EVENT_FIELDS = tuple(_Events.__dataclass_fields__)


def _year_view(
    population: _Population, schools: _Schools, calendar: YearCalendar, roster: _YearRoster
) -> history.YearView:
    """What the interventions history reads of a school year."""
    last_reason = np.where(roster.school_b >= 0, roster.reason_b, roster.reason_a)
    family = population.student["family"][roster.student]
    route = schools.route_of(
        roster.school_a,
        population.family["zone"][family],
        roster.grade,
        population.student["rider"][roster.student],
    )
    return history.YearView(
        start_year=calendar.start_year,
        name=calendar.name,
        columns=calendar.columns,
        last_day=int(calendar.dates[-1]),
        student=roster.student,
        grade=roster.grade,
        school_a=roster.school_a,
        entry_a=roster.entry_a,
        exit_a=roster.exit_a,
        school_b=roster.school_b,
        entry_b=roster.entry_b,
        exit_b=roster.exit_b,
        exit_reason=_text(EXIT_REASONS)[last_reason],
        homeless=roster.held_to[HOMELESS] >= calendar.columns[0],
        rider=route >= 0,
    )


def _finish_history(
    record: history.History,
    params: DistrictParameters,
    tables: dict[str, Table],
    students: int,
    effects: dict[str, float],
) -> dict:
    """The history named by the output's ids: guardians and homeroom teachers looked up."""

    ids = _student_ids(students)
    # Only the students the history names are looked up: the rest would cost time.
    named = np.array(sorted({int(ids[c["student"]]) for c in record.cases + record.tier1}))
    cuts: dict[str, np.ndarray] = {}

    def column(stem: str, name: str) -> np.ndarray:
        values = np.concatenate([part[name] for part in tables[stem].parts])
        if stem in ("student_guardians", "section_enrollments"):
            if stem not in cuts:
                local = column_all(stem, "student_id").astype(np.int64)  # ids are numbers
                cuts[stem] = np.isin(local, named)
            return values[cuts[stem]]
        return values

    def column_all(stem: str, name: str) -> np.ndarray:
        return np.concatenate([part[name] for part in tables[stem].parts])

    preferred: dict[str, str] = {}
    for guardian, channel, is_preferred in zip(
        column("contact_preferences", "guardian_id").tolist(),
        column("contact_preferences", "channel").tolist(),
        column("contact_preferences", "preferred").tolist(),
        strict=True,
    ):
        if is_preferred:
            preferred[guardian] = channel
    language = dict(
        zip(
            column("guardians", "guardian_id").tolist(),
            column("guardians", "preferred_language").tolist(),
            strict=True,
        )
    )
    guardians: dict[str, list[tuple[str, str, str]]] = {}
    for student, guardian in zip(
        column("student_guardians", "student_id").tolist(),
        column("student_guardians", "guardian_id").tolist(),
        strict=True,
    ):  # sorted by student, then contact priority
        guardians.setdefault(student, []).append(
            (guardian, language.get(guardian, "en"), preferred.get(guardian, "voice"))
        )

    teacher_of = dict(
        zip(
            zip(
                column("sections", "school_id").tolist(),
                column("sections", "school_year").tolist(),
                column("sections", "section_id").tolist(),
                strict=True,
            ),
            column("sections", "teacher_id").tolist(),
            strict=True,
        )
    )
    memberships: dict[str, list[tuple[int, int, str]]] = {}
    never = dt.date.max.toordinal()
    for student, school, year, section, start, end in zip(
        column("section_enrollments", "student_id").tolist(),
        column("section_enrollments", "school_id").tolist(),
        column("section_enrollments", "school_year").tolist(),
        column("section_enrollments", "section_id").tolist(),
        column("section_enrollments", "start_date").astype("int64").tolist(),
        column("section_enrollments", "end_date").astype("datetime64[D]").tolist(),
        strict=True,
    ):
        last = end.toordinal() if end is not None else never
        memberships.setdefault(student, []).append(
            (start + EPOCH_ORDINAL, last, teacher_of.get((school, year, section), ""))
        )

    def homeroom_teacher(student: str, on: int) -> str | None:
        for start, end, teacher in memberships.get(student, ()):
            if start <= on <= end and teacher:
                return teacher
        return None

    plans = _plan_schools(params).plans
    return history.finish(
        record,
        today=params.today.toordinal(),
        school_ids=_text([p.local_id for p in plans]),
        student_ids=ids,
        guardians=guardians,
        homeroom_teacher=homeroom_teacher,
        effects=effects,
        planted=history.PlantedDays(dict(params.planted_days), params.planted_weeks),
    )


# ---------------------------------------------------------------------------------------
# Output tables


def _dates(ordinals: np.ndarray) -> np.ndarray:
    """Ordinals as datetime64[D]; MISSING becomes NaT."""
    ordinals = np.asarray(ordinals, dtype=np.int64)
    out = (ordinals - EPOCH_ORDINAL).astype("datetime64[D]")
    out[ordinals == MISSING] = np.datetime64("NaT", "D")
    return out


def _text(values) -> np.ndarray:
    """A column of text."""
    return np.asarray(values, dtype=object)


@functools.cache
def _ascii(text: str) -> str:
    """Letters of a name fit for an email address."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


def _tables(
    params: DistrictParameters,
    population: _Population,
    schools: _Schools,
    calendars: list[YearCalendar],
    rosters: list[_YearRoster],
    events: list[_Events],
    reason_texts: list[str],
) -> dict[str, Table]:
    """The output files' contents, cut at `today`: nothing that starts on or after it."""
    today = params.today.toordinal()
    rng = _stream(params.seed, "tables")
    plans = schools.plans
    school_ids = _text([p.local_id for p in plans])
    tables: dict[str, Table] = {}

    tables["district"] = Table(
        COLUMNS["district"],
        [
            {
                "name": _text([params.name]),
                "state": _text([params.state]),
                "timezone": _text([params.timezone]),
            }
        ],
    )
    tables["schools"] = Table(
        COLUMNS["schools"],
        [
            {
                "school_id": school_ids,
                "state_id": _text([p.state_id for p in plans]),
                "name": _text([p.name for p in plans]),
                "level": _text([p.level for p in plans]),
                "lowest_grade": np.array([p.lowest_grade for p in plans]),
                "highest_grade": np.array([p.highest_grade for p in plans]),
            }
        ],
    )
    tables["school_years"] = Table(
        COLUMNS["school_years"],
        [
            {
                "school_year": _text([c.name for c in calendars]),
                "start_date": _dates([c.start.toordinal() for c in calendars]),
                "end_date": _dates([c.end.toordinal() for c in calendars]),
            }
        ],
    )
    calendar_dates = Table(COLUMNS["calendar_dates"])
    kind_names = _text(KINDS)
    for calendar in calendars:
        for k, _plan in enumerate(plans):
            size = len(calendar.dates)
            calendar_dates.parts.append(
                {
                    "school_id": np.repeat(school_ids[k : k + 1], size),
                    "school_year": np.repeat(_text([calendar.name]), size),
                    "date": _dates(calendar.dates),
                    "kind": kind_names[calendar.kinds[schools.levels[k]]],
                }
            )
    tables["calendar_dates"] = calendar_dates

    # Enrollment spans of the whole simulation, each with its homeroom; then the cut at
    # today: later entries vanish, later exits stay open. Every draw is made before the cut
    # so a later `today` in the same school year only adds rows and closes open spans.
    spans = []
    for y, (calendar, roster) in enumerate(zip(calendars, rosters, strict=True)):
        for school, entry, exit_, reason in (
            (roster.school_a, roster.entry_a, roster.exit_a, roster.reason_a),
            (roster.school_b, roster.entry_b, roster.exit_b, roster.reason_b),
        ):
            has = school >= 0
            spans.append(
                {
                    "student": roster.student[has],
                    "school": school[has],
                    "year": np.full(int(has.sum()), y),
                    "grade": roster.grade[has],
                    "entry": calendar.columns[entry[has]],
                    "exit": calendar.columns[exit_[has]],
                    "reason": reason[has],
                }
            )
    every = {key: np.concatenate([s[key] for s in spans]) for key in spans[0]}
    order = np.lexsort((every["entry"], every["student"]))
    every = {key: values[order] for key, values in every.items()}
    section_ids = _section_tables(rng, schools, calendars, every, school_ids, tables)
    keep = every["entry"] < today
    still_open = every["exit"] >= today
    every["exit"] = np.where(still_open, MISSING, every["exit"])
    every["reason"] = np.where(still_open, 0, every["reason"])
    span = {key: values[keep] for key, values in every.items()}
    span_section = section_ids[keep]

    # Students: those with at least one span kept; their current grade is the latest one.
    kept = np.unique(span["student"])
    local_ids = _student_ids(population.students)
    state_ids = _text(
        [str(1000000000 + (k * 7919 + 12345) % 8999999999) for k in range(population.students)]
    )
    latest = np.zeros(population.students, dtype=np.int64)
    latest[span["student"]] = span["grade"]  # sorted by entry: the last write wins
    s = population.student
    family = s["family"][kept]
    tables["students"] = Table(
        COLUMNS["students"],
        [
            {
                "student_id": local_ids[kept],
                "state_id": state_ids[kept],
                "first_name": s["first_name"][kept],
                "middle_name": s["middle_name"][kept],
                "last_name": population.family["last_name"][family],
                "birth_date": _dates(s["birth"][kept]),
                "grade": latest[kept],
                "gender": _text(GENDERS)[s["gender"][kept]],
                "race_ethnicity": _text(RACES)[population.family["race"][family]],
                "home_language": _text(LANGUAGES)[population.family["language"][family]],
            }
        ],
    )
    is_kept = np.zeros(population.students, dtype=bool)
    is_kept[kept] = True

    # Characteristics: closed spans and those still open, cut at today.
    parts = list(population.closed)
    for kind in range(len(CHARACTERISTICS)):
        who = np.flatnonzero(population.held[kind] != MISSING)
        parts.append((who, kind, population.held[kind, who], np.full(len(who), MISSING)))
    who = np.concatenate([p[0] for p in parts])
    kind = np.concatenate([np.full(len(p[0]), p[1]) for p in parts])
    start = np.concatenate([p[2] for p in parts])
    end = np.concatenate([p[3] for p in parts])
    keep = is_kept[who] & (start < today)
    end = np.where(end >= today, MISSING, end)
    order = np.lexsort((start[keep], kind[keep], who[keep]))
    tables["student_characteristics"] = Table(
        COLUMNS["student_characteristics"],
        [
            {
                "student_id": local_ids[who[keep][order]],
                "characteristic": _text(CHARACTERISTICS)[kind[keep][order]],
                "start_date": _dates(start[keep][order]),
                "end_date": _dates(end[keep][order]),
            }
        ],
    )

    _family_tables(rng, params, population, kept, local_ids, tables)

    tables["enrollments"] = Table(
        COLUMNS["enrollments"],
        [
            {
                "student_id": local_ids[span["student"]],
                "school_id": school_ids[span["school"]],
                "school_year": _text([c.name for c in calendars])[span["year"]],
                "grade": span["grade"],
                "entry_date": _dates(span["entry"]),
                "exit_date": _dates(span["exit"]),
                "exit_reason": _text(EXIT_REASONS)[span["reason"]],
            }
        ],
    )

    tables["section_enrollments"] = Table(
        COLUMNS["section_enrollments"],
        [
            {
                "student_id": local_ids[span["student"]],
                "school_id": school_ids[span["school"]],
                "school_year": _text([c.name for c in calendars])[span["year"]],
                "section_id": span_section,
                "start_date": _dates(span["entry"]),
                "end_date": _dates(span["exit"]),
            }
        ],
    )

    tables["attendance_codes"] = Table(
        COLUMNS["attendance_codes"],
        [
            {
                "code": _text([c[0] for c in ATTENDANCE_CODES]),
                "description": _text([c[1] for c in ATTENDANCE_CODES]),
                "category": _text([c[2] for c in ATTENDANCE_CODES]),
                "day_fraction": np.array([c[3] for c in ATTENDANCE_CODES]),
            }
        ],
    )
    code_names = _text([""] + [c[0] for c in ATTENDANCE_CODES])
    reasons = _text(reason_texts)
    tables["attendance_events"] = Table(
        COLUMNS["attendance_events"],
        [
            {
                "student_id": local_ids[e.student],
                "school_id": school_ids[e.school],
                "date": _dates(e.date),
                "code": code_names[e.code],
                "day_fraction": e.day_fraction,
                "minutes_missed": np.where(e.minutes == MISSING, np.nan, e.minutes),
                "reason": reasons[e.reason],
            }
            for e in events
        ],
    )
    return tables


def _family_tables(
    rng: np.random.Generator,
    params: DistrictParameters,
    population: _Population,
    kept: np.ndarray,
    local_ids: np.ndarray,
    tables: dict[str, Table],
) -> None:
    """Guardians of the kept students' families, their contact preferences and links.

    Everything is drawn for every family ever generated, then cut to the kept students'
    families, so ids and values do not depend on how many students `today` keeps.
    """
    f = population.family
    families = np.arange(population.families)
    per_family = f["guardians"]
    # Guardian rows: the first guardian of each family, then the second where there is one.
    family = np.concatenate([families, families[per_family == 2]])
    rank = np.concatenate([np.ones(len(families), int), np.full(int((per_family == 2).sum()), 2)])
    order = np.lexsort((rank, family))
    family, rank = family[order], rank[order]
    count = len(family)
    first_relationship = _choice(rng, count, (0.72, 0.14, 0.08, 0.06))  # mother, father, gm, legal
    relationship = np.where(
        rank == 1,
        np.array(["mother", "father", "grandparent", "guardian"], dtype=object)[first_relationship],
        np.where(first_relationship[np.maximum(np.arange(count) - 1, 0)] == 1, "mother", "father"),
    ).astype(object)
    second_other = (rank == 2) & (rng.random(count) < 0.08)
    relationship[second_other] = "other"
    sex = np.where(np.isin(relationship, ("mother", "grandparent")), 0, 1)
    sex = np.where(np.isin(relationship, ("guardian", "other")), rng.integers(0, 2, count), sex)
    group = f["name_group"][family]
    first_name = _pick_names(rng, group, sex)
    last_name = f["last_name"][family].copy()
    other_last = rng.random(count) < 0.15
    last_name[other_last] = _pick_names(rng, group[other_last], np.full(int(other_last.sum()), 2))
    language = f["language"][family]
    english_too = (language != 0) & (rng.random(count) < 0.2)
    has_phone = rng.random(count) < 0.96
    has_email = rng.random(count) < 0.8
    area = rng.integers(0, len(AREA_CODES), count)
    line = rng.integers(0, 10000, count)
    number = rng.integers(1, 100, count)
    domain = rng.integers(0, len(EMAIL_DOMAINS), count)
    liking = np.stack([rng.random(count) * w for w in (0.45, 0.2, 0.3, 0.05)])
    consent_draw = rng.random((4, count))

    family_kept = np.zeros(population.families, dtype=bool)
    family_kept[population.student["family"][kept]] = True
    shown = np.flatnonzero(family_kept[family])  # guardian numbers written out
    guardian_ids = _text([f"G{500000 + k}" for k in range(count)])
    phones = [
        f"({AREA_CODES[a]}) 555-{n:04d}" if p else ""
        for a, n, p in zip(
            area[shown].tolist(), line[shown].tolist(), has_phone[shown].tolist(), strict=True
        )
    ]
    emails = [
        f"{_ascii(fn)}.{_ascii(ln)}{n}@{EMAIL_DOMAINS[d]}" if e else ""
        for fn, ln, n, d, e in zip(
            first_name[shown].tolist(),
            last_name[shown].tolist(),
            number[shown].tolist(),
            domain[shown].tolist(),
            has_email[shown].tolist(),
            strict=True,
        )
    ]
    city = f["city"][family[shown]]
    tables["guardians"] = Table(
        COLUMNS["guardians"],
        [
            {
                "guardian_id": guardian_ids[shown],
                "first_name": first_name[shown],
                "last_name": last_name[shown],
                "phone": _text(phones),
                "email": _text(emails),
                "address_line": f["address"][family[shown]],
                "city": _text([c[0] for c in CITIES])[city],
                "state": np.repeat(_text([params.state]), len(shown)),
                "postal_code": _text([c[1] for c in CITIES])[city],
                "preferred_language": _text(LANGUAGES)[np.where(english_too, 0, language)[shown]],
            }
        ],
    )

    # Contact preferences: a row per channel the guardian can be reached on, one preferred.
    channels = ("sms", "voice", "email", "letter")
    available = np.stack([has_phone, has_phone, has_email, np.ones(count, bool)])
    favourite = (liking * available).argmax(axis=0)
    consent_shares = {
        "sms": (0.8, 0.07, 0.13),
        "voice": (0.88, 0.02, 0.10),
        "email": (0.85, 0.03, 0.12),
        "letter": (0.95, 0.0, 0.05),
    }
    consents = np.array(["granted", "opted_out", "unknown"], dtype=object)
    parts = []
    for c, channel in enumerate(channels):
        who = shown[available[c, shown]]
        cumulative = np.cumsum(consent_shares[channel])
        consent = consents[np.searchsorted(cumulative, consent_draw[c, who], side="right")]
        preferred = favourite[who] == c
        consent[preferred & (consent == "opted_out")] = "granted"
        parts.append((who, np.full(len(who), c), preferred, consent))
    who = np.concatenate([p[0] for p in parts])
    channel = np.concatenate([p[1] for p in parts])
    order = np.lexsort((channel, who))
    tables["contact_preferences"] = Table(
        COLUMNS["contact_preferences"],
        [
            {
                "guardian_id": guardian_ids[who[order]],
                "channel": _text(channels)[channel[order]],
                "preferred": np.concatenate([p[2] for p in parts])[order],
                "consent": np.concatenate([p[3] for p in parts])[order],
            }
        ],
    )

    # Links: every student to each guardian of their family; written for kept students.
    guardian_number = np.arange(count)
    first_guardian = np.full(population.families, MISSING)
    first_guardian[family[rank == 1]] = guardian_number[rank == 1]
    second_guardian = np.full(population.families, MISSING)
    second_guardian[family[rank == 2]] = guardian_number[rank == 2]
    everyone = np.arange(population.students)
    student_family = population.student["family"]
    has_second = second_guardian[student_family] >= 0
    link_student = np.concatenate([everyone, everyone[has_second]])
    link_guardian = np.concatenate(
        [first_guardian[student_family], second_guardian[student_family][has_second]]
    )
    priority = np.concatenate([np.ones(len(everyone), int), np.full(int(has_second.sum()), 2)])
    lives_with = (priority == 1) | (rng.random(len(priority)) < 0.75)
    is_kept = np.zeros(population.students, dtype=bool)
    is_kept[kept] = True
    shown_links = np.flatnonzero(is_kept[link_student])
    shown_links = shown_links[np.lexsort((priority[shown_links], link_student[shown_links]))]
    link_relationship = relationship[link_guardian].copy()
    foster = (priority == 1) & population.student["foster_at_entry"][link_student]
    link_relationship[foster] = "foster_parent"
    tables["student_guardians"] = Table(
        COLUMNS["student_guardians"],
        [
            {
                "student_id": local_ids[link_student[shown_links]],
                "guardian_id": guardian_ids[link_guardian[shown_links]],
                "relationship": link_relationship[shown_links],
                "contact_priority": priority[shown_links],
                "lives_with": lives_with[shown_links],
            }
        ],
    )


def _section_tables(
    rng: np.random.Generator,
    schools: _Schools,
    calendars: list[YearCalendar],
    span: dict[str, np.ndarray],
    school_ids: np.ndarray,
    tables: dict[str, Table],
) -> np.ndarray:
    """Homerooms per school, grade and year, and their teachers; the homeroom of each span."""
    plans = schools.plans
    # Homerooms per (year, school, grade): enough for the students there on the first day.
    section_rows = []
    slot_teacher: dict[tuple[int, int, int], int] = {}
    teacher_school: list[int] = []
    offsets: dict[tuple[int, int, int], tuple[int, int]] = {}
    first_days = np.array([c.columns[0] for c in calendars])
    for y, calendar in enumerate(calendars):
        for k, plan in enumerate(plans):
            size = HOMEROOM_SIZE[plan.level]
            for grade in range(plan.lowest_grade, plan.highest_grade + 1):
                here = (span["year"] == y) & (span["school"] == k) & (span["grade"] == grade)
                on_first_day = int((here & (span["entry"] == first_days[y])).sum())
                count = max(1, math.ceil(on_first_day / size))
                offsets[(y, k, grade)] = (len(section_rows), count)
                for letter in range(count):
                    teacher = slot_teacher.setdefault((k, grade, letter), len(teacher_school))
                    if teacher == len(teacher_school):
                        teacher_school.append(k)
                    label = ("K" if grade == 0 else str(grade)) + _letters(letter)
                    homeroom = plan.level in ("elementary", "other") and grade <= 5
                    section_rows.append(
                        (
                            k,
                            calendar.name,
                            f"{'HR' if homeroom else 'ADV'}-{label}",
                            f"{'Homeroom' if homeroom else 'Advisory'} {label}",
                            "HR" if homeroom else "ADV",
                            teacher,
                            grade,
                        )
                    )
    # Teachers without a homeroom: specialists, and subject teachers in secondary schools.
    homeroom_teachers = np.bincount(np.array(teacher_school, dtype=np.int64), minlength=len(plans))
    for k, plan in enumerate(plans):
        wanted = schools.expected[k] / (16 if plan.level in ("middle", "high") else 20)
        extra = max(
            2,
            round(float(wanted - homeroom_teachers[k])),
            round(0.15 * float(homeroom_teachers[k])),
        )
        teacher_school.extend([k] * extra)
    count = len(teacher_school)
    sex = rng.integers(0, 2, count)
    group = np.where(rng.random(count) < 0.85, 0, NAME_GROUPS.index("hispanic"))
    first_name = _pick_names(rng, group, sex)
    last_name = _pick_names(rng, group, np.full(count, 2))
    seen: dict[str, int] = {}
    emails = []
    for fn, ln in zip(first_name.tolist(), last_name.tolist(), strict=True):
        base = f"{_ascii(fn)[:1]}{_ascii(ln)}"
        seen[base] = seen.get(base, 0) + 1
        suffix = "" if seen[base] == 1 else str(seen[base])
        emails.append(f"{base}{suffix}@riverbend.example.org")
    staff_ids = _text([f"E{20000 + k}" for k in range(count)])
    tables["staff"] = Table(
        COLUMNS["staff"],
        [
            {
                "staff_id": staff_ids,
                "first_name": first_name,
                "last_name": last_name,
                "school_id": school_ids[np.array(teacher_school, dtype=np.int64)],
                "email": _text(emails),
            }
        ],
    )
    columns = list(zip(*section_rows, strict=True))
    tables["sections"] = Table(
        COLUMNS["sections"],
        [
            {
                "school_id": school_ids[np.array(columns[0], dtype=np.int64)],
                "school_year": _text(columns[1]),
                "section_id": _text(columns[2]),
                "name": _text(columns[3]),
                "period": _text(columns[4]),
                "is_homeroom": np.ones(len(section_rows), dtype=bool),
                "teacher_id": staff_ids[np.array(columns[5], dtype=np.int64)],
                "grade": np.array(columns[6], dtype=np.int64),
            }
        ],
    )
    # Each span joins one homeroom of its school, grade and year, for the span's dates.
    first = np.zeros(len(span["student"]), dtype=np.int64)
    number = np.ones(len(span["student"]), dtype=np.int64)
    for (y, k, grade), (offset, sections) in offsets.items():
        here = (span["year"] == y) & (span["school"] == k) & (span["grade"] == grade)
        first[here], number[here] = offset, sections
    section = first + (rng.random(len(first)) * number).astype(np.int64)
    return _text(columns[2])[section]
