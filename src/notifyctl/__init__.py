"""notifyctl: manage, tail, capture and replay IoT platform notification channels.

The package root holds only the version, so that ``--version`` costs nothing to answer.
"""

__version__ = "0.1.0"
