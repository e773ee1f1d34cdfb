"""``python -m notifyctl`` runs the same entry point as the console script."""

from notifyctl.entry import main

raise SystemExit(main())
