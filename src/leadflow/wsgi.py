import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadflow.settings")
application = get_wsgi_application()
get_resolver().url_patterns  # noqa: B018 - imports every view and API module now
# Everything loaded so far lives as long as the process: frozen, the collector no longer walks
# it, and a full collection takes under a millisecond instead of about a hundred (each worker
# imports this module after it is forked).
gc.freeze()
