"""``python -m sidecar`` is the same program as the ``noodl-sidecar`` console script."""

import sys

from sidecar.cli import main

sys.exit(main())
