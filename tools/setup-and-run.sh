#!/usr/bin/env bash
# Sets up everything mxcubecore-lims needs on a Debian machine, then runs one job.
#
#   bash tools/setup-and-run.sh demo     # the emulated-beamline demo (the main job)
#   bash tools/setup-and-run.sh test     # the whole test suite (extra arguments go to pytest)
#
# Idempotent: Debian packages are installed when run as root (apt-get update first),
# the virtualenv .venv is created once and the package (with its test extra) is
# (re)installed into it every time (with mxcubeweb for the test job). Needs no
# standard input.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
job="${1:-demo}"
shift || true

debian_packages=(
    python3 python3-venv python3-dev build-essential pkg-config
    # python-ldap (an mxcubecore dependency) builds against these
    libldap2-dev libsasl2-dev
    # a real LDAP server and its tools, for the LDAP tests and the demo
    slapd ldap-utils
    # a real headless browser for the browser tests (the chromium fixture): Debian's
    # Chromium and its matching chromedriver, which Selenium is given explicitly, so
    # nothing downloads a browser or driver at test time
    chromium chromium-driver
    # a real message broker for the broker tests (the activemq_broker fixture): Debian's
    # ActiveMQ 5, which the fixture runs from a throw-away directory (the package enables no
    # system instance); it pulls a Java runtime (default-jre-headless) if none is installed
    activemq
)

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${debian_packages[@]}" >/dev/null
else
    echo "not root or not Debian: assuming these are installed: ${debian_packages[*]}" >&2
fi

python="$(command -v python3.11 || command -v python3)"
if ! "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    echo "Python 3.11 is required (mxcubecore needs <3.12); found $("$python" --version)" >&2
    exit 1
fi

if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
# Both jobs install the session record's report libraries (extra "record") and the STOMP
# client for the ActiveMQ broker (extra "broker"); the test job also mxcubeweb (extra "web":
# its tests run the real client) and the house's tools (extra "lint": ruff, mypy,
# import-linter, run by the tests).
extras="test,record,broker"
[ "$job" = test ] && extras="test,record,broker,web,lint"
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[$extras]"
# mxcubecore pulls suds-py3 and python-icat pulls suds; both install the module
# `suds`. Reinstall the tested one last so its files are the ones on disk.
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --force-reinstall "suds==1.2.0"

case "$job" in
    demo) exec .venv/bin/mxcubecore-lims demo "$@" ;;
    test) exec .venv/bin/python -m pytest "$@" ;;
    *) echo "unknown job '$job' (demo or test)" >&2; exit 2 ;;
esac
