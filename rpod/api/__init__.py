"""The REST API front end (``rpod system service``): Docker Engine API v1.41 and the Libpod API.

Every endpoint parses its request, calls the engine (``rpod.engine``), and serialises the report;
nothing here imports a domain package (``tests/unit/test_layering.py``).
"""

API_VERSION = "1.41"
MIN_API_VERSION = "1.24"
LIBPOD_VERSION = "4.3.1"
