"""noodl-sidecar: the local backend the OpenNoodl editor spawns beside itself.

This module stays import-light on purpose: the stdio entry point must claim stdout
before anything else is imported (see ``sidecar.cli``).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
