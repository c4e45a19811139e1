"""``python -m rootless.monitor CONFIG_JSON``."""

import sys

from rootless.monitor.main import main

sys.exit(main())
