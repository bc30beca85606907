"""Every test run, unit and end-to-end alike: an illegal move of a caller's place is a bug that
raises (services/place.py), in this process and in the app the e2e fixtures start from it."""

from __future__ import annotations

import os

from ivr.services.place import STRICT_ENV

os.environ[STRICT_ENV] = "1"
