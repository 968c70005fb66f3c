"""WSGI entry point for production servers."""

import os
from importlib import import_module

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "homeroom.settings")
application = get_wsgi_application()
# The URLconf imports every view and with them pandas, scipy, Ibis and scikit-learn: about
# 4 s of imports (docs/benchmarks.md, "Dashboards") that the first request to each new
# server process would otherwise wait for. Done here, while the server starts.
import_module(settings.ROOT_URLCONF)
