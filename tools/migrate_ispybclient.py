#!/usr/bin/env python3
"""Migrates ISPyBClient-style LIMS configurations to mxcubecore-lims objects.

The same as ``mxcubecore-lims migrate``; usable from a checkout without the
console script::

    python tools/migrate_ispybclient.py /path/to/beamline-config --dry-run
    python tools/migrate_ispybclient.py /path/to/beamline-config --to yaml
"""

from __future__ import annotations

import sys

from mxcubecore_lims.cli import main

if __name__ == "__main__":
    sys.exit(main(["migrate", *sys.argv[1:]]))
