import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# Each web process refuses to start when a live store shows a misconfiguration (ops.checks);
# gunicorn then stops with the message, naming the variable.
from ops.checks import refuse_to_start_if_misconfigured  # noqa: E402  (needs Django set up)

refuse_to_start_if_misconfigured()
