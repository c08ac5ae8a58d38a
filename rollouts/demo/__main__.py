"""``python -m rollouts.demo``: see :mod:`rollouts.demo`."""

import sys

from rollouts.demo.run import main

sys.exit(main())
