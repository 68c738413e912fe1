"""Test-suite set-up: gevent monkey-patching first, as mxcubecore and mxcubeweb do."""

from gevent import monkey

monkey.patch_all(thread=False)
