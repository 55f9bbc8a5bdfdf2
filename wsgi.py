"""The WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi ...`."""

import sys

from petitions import create_app
from petitions.settings import SettingsError

try:
    app = create_app()
except SettingsError as error:
    for problem in error.problems:
        print(f"petitions: setting {problem}", file=sys.stderr)
    raise SystemExit(1) from None
