"""``python -m labelavg`` runs the ``labelavg`` command."""

import sys

from labelavg.cli import main

sys.exit(main())
