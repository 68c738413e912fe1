"""Where the installed ActiveMQ 5 is: its home directory (launcher and broker jars) and a Java runtime.

The home is ``$MXCUBECORE_LIMS_ACTIVEMQ_HOME`` when set (and then nothing
else: an explicit choice never falls back, so setting it to a missing
directory simulates an absent broker), else the first of :data:`HOME_PLACES`
that holds the launcher. Debian's ``activemq`` package lays it out as
upstream's tarball does, with the jars as symbolic links into
``/usr/share/java``::

    /usr/share/activemq/bin/activemq.jar      the launcher (org.apache.activemq.console.Main)
    /usr/share/activemq/lib/*.jar             broker, client, STOMP, KahaDB, ...
    /usr/share/activemq/lib/optional/*.jar    Spring and XBean (the XML configuration)

Upstream names its jars with a version (``activemq-broker-5.18.3.jar``);
both spellings are accepted. Java is ``$JAVA_HOME/bin/java``, else ``java``
on ``PATH``, else Debian's ``/usr/lib/jvm/default-java``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mxcubecore_lims.testing.activemq.errors import ActiveMqNotFoundError

__all__ = [
    "ENV_ACTIVEMQ_HOME",
    "HOME_PLACES",
    "JAVA_PLACES",
    "REQUIRED_JARS",
    "ActiveMqInstallation",
    "find_activemq",
    "find_java",
    "locate_activemq",
]

#: Environment variable naming the ActiveMQ home directory (no fallback when set).
ENV_ACTIVEMQ_HOME = "MXCUBECORE_LIMS_ACTIVEMQ_HOME"

#: Where Debian (first) and hand installations put ActiveMQ 5.
HOME_PLACES = ("/usr/share/activemq", "/opt/activemq", "/usr/local/activemq")
#: Java runtimes tried after ``$JAVA_HOME`` and ``PATH``.
JAVA_PLACES = ("/usr/lib/jvm/default-java/bin/java",)

#: The jars the fixture needs, as (directory under the home, name without ``.jar``).
REQUIRED_JARS = (
    ("bin", "activemq"),
    ("lib", "activemq-broker"),
    ("lib", "activemq-client"),
    ("lib", "activemq-stomp"),
    ("lib", "activemq-kahadb-store"),
    ("lib/optional", "activemq-spring"),
    ("lib/optional", "xbean-spring"),
)

_INSTALL_HINT = (
    f"install it (Debian: apt-get install activemq, which pulls a Java runtime) or set {ENV_ACTIVEMQ_HOME} "
    "to an ActiveMQ 5 home directory"
)


@dataclass(frozen=True)
class ActiveMqInstallation:
    """An ActiveMQ 5 home and the Java runtime that runs it.

    Attributes:
        home: The home directory (``bin/activemq.jar``, ``lib/``).
        java: The ``java`` executable.
        launcher: ``bin/activemq.jar`` (or a versioned name), run with ``java -jar``.
    """

    home: Path
    java: Path
    launcher: Path


def _executable(candidate: str | Path | None) -> Path | None:
    """Returns the candidate if it is an executable file."""
    if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
        return Path(candidate)
    return None


def find_java(environ: Mapping[str, str] | None = None) -> Path | None:
    """Finds a ``java`` executable: ``$JAVA_HOME/bin/java``, ``PATH``, then :data:`JAVA_PLACES`."""
    environ = os.environ if environ is None else environ
    java_home = environ.get("JAVA_HOME")
    candidates: list[str | Path | None] = [Path(java_home) / "bin" / "java"] if java_home else []
    candidates.append(shutil.which("java", path=environ.get("PATH", os.defpath)))
    candidates.extend(JAVA_PLACES)
    return next((found for found in map(_executable, candidates) if found is not None), None)


def _jar(home: Path, directory: str, name: str) -> Path | None:
    """Returns ``<home>/<directory>/<name>.jar`` or a versioned ``<name>-<version>.jar``, if it is a file."""
    folder = home / directory
    exact = folder / f"{name}.jar"
    if exact.is_file():  # follows the symbolic link: a dangling one counts as missing
        return exact
    versioned = sorted(path for path in folder.glob(f"{name}-[0-9]*.jar") if path.is_file())
    return versioned[-1] if versioned else None


def _missing_jars(home: Path) -> list[str]:
    """Returns the required jars that ``home`` lacks, as paths relative to it."""
    return [f"{directory}/{name}.jar" for directory, name in REQUIRED_JARS if _jar(home, directory, name) is None]


def _home(environ: Mapping[str, str]) -> tuple[Path, list[str]]:
    """Returns the home to use and the jars it lacks (all of them when no home was found)."""
    named = environ.get(ENV_ACTIVEMQ_HOME)
    if named:
        home = Path(named)
        return home, _missing_jars(home)
    for place in HOME_PLACES:
        missing = _missing_jars(Path(place))
        if not missing:
            return Path(place), []
    return Path(HOME_PLACES[0]), _missing_jars(Path(HOME_PLACES[0]))


def locate_activemq(environ: Mapping[str, str] | None = None) -> ActiveMqInstallation:
    """Finds ActiveMQ and Java, or says exactly what is missing.

    Args:
        environ: The environment (default ``os.environ``):
            ``MXCUBECORE_LIMS_ACTIVEMQ_HOME``, ``JAVA_HOME``, ``PATH``.

    Returns:
        The installation.

    Raises:
        ActiveMqNotFoundError: Java, the home directory or one of
            :data:`REQUIRED_JARS` is missing; the message names each.
    """
    environ = os.environ if environ is None else environ
    home, missing = _home(environ)
    java = find_java(environ)
    problems = []
    if not home.is_dir():
        source = f" (from {ENV_ACTIVEMQ_HOME})" if environ.get(ENV_ACTIVEMQ_HOME) else ""
        looked = str(home) if source else ", ".join(HOME_PLACES)
        problems.append(f"no ActiveMQ home directory at {looked}{source}")
    elif missing:
        problems.append(f"ActiveMQ jars missing in {home}: {', '.join(missing)}")
    if java is None:
        problems.append(f"no Java runtime (JAVA_HOME, java on PATH, {', '.join(JAVA_PLACES)})")
    if problems:
        raise ActiveMqNotFoundError(f"ActiveMQ broker not usable: {'; '.join(problems)}; {_INSTALL_HINT}")
    launcher = _jar(home, "bin", "activemq")
    assert java is not None and launcher is not None
    return ActiveMqInstallation(home=home, java=java, launcher=launcher)


def find_activemq(environ: Mapping[str, str] | None = None) -> Path | None:
    """Returns the ActiveMQ home directory if ActiveMQ and Java are usable, else ``None``.

    See :func:`locate_activemq` for what is looked at and for the reason.
    """
    try:
        return locate_activemq(environ).home
    except ActiveMqNotFoundError:
        return None
