"""``python -m mxcubecore_lims.cli``: the ``mxcubecore-lims`` command."""

import sys

from mxcubecore_lims.cli import main

sys.exit(main())
