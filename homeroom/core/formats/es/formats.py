"""Spanish: "7 dic 2026"; numbers as Django's Spanish data writes them (12 345,6; 97,1 %).

A district whose staff write numbers the Mexican way (12,345.6) sets DECIMAL_SEPARATOR to
"." and THOUSAND_SEPARATOR to "," here.
"""

DATE_FORMAT = "j b Y"
DATETIME_FORMAT = "j b Y, H:i"
YEAR_MONTH_FORMAT = r"F \d\e Y"
# Date inputs (<input type="date">) send and show ISO dates, whatever the language.
DATE_INPUT_FORMATS = ["%Y-%m-%d", "%d/%m/%Y", "%d/%m/%y"]
