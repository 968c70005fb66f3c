"""English: "Dec 7, 2026"; numbers as 12,345.6 (Django's English data)."""

DATE_FORMAT = "M j, Y"
DATETIME_FORMAT = "M j, Y, g:i a"
YEAR_MONTH_FORMAT = "F Y"
