"""``python -m notifyctl`` runs the same entry point as the console script."""

from notifyctl.cli import main

raise SystemExit(main())
