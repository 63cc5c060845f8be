"""Entry point PyInstaller freezes: the same ``main`` as the ``noodl-sidecar`` console script."""

import multiprocessing
import sys

from sidecar.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
