"""``python -m nicemu`` is the ``nicemu`` command."""

import sys

from nicemu.cli import main

sys.exit(main())
