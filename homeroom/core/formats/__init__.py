"""How dates and numbers are written in each language of the interface (docs/languages.md).

Django reads `<language>/formats.py` here first, then its own locale data, so a module sets
only what Homeroom writes differently: `homeroom.metrics.display` and the templates' `date`
filter (with `DATE_FORMAT` and friends) both follow it.
"""
