"""A real headless Chromium for tests, driven through Selenium and Debian's chromedriver.

:func:`start_chromium` starts ``chromedriver`` and a headless Chromium with a
throw-away profile, a fixed window size and no way out to the network: host
names other than ``localhost`` do not resolve and every other request goes to
a dead proxy, so a page that fetches from the internet fails at once instead
of hanging. Loopback servers and ``file://`` pages work.

Both binaries are found by :func:`find_chromium` (``MXCUBECORE_LIMS_CHROMIUM``
and ``MXCUBECORE_LIMS_CHROMEDRIVER``, then ``PATH``, then Debian's places).
The driver path is always given to Selenium explicitly, so Selenium Manager
never runs and never downloads a driver.

Selenium is imported on first use only: the pytest plugin imports this module
in every test session, also where the ``test`` extra is not installed.
"""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mxcubecore_lims.errors import LimsError, LimsUnavailableError

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver
    from selenium.webdriver.chromium.webdriver import ChromiumDriver
    from selenium.webdriver.remote.webdriver import WebDriver as RemoteWebDriver

__all__ = [
    "BROWSER_NAMES",
    "BROWSER_PLACES",
    "DRIVER_PLACES",
    "ENV_CHROMEDRIVER",
    "ENV_CHROMIUM",
    "WINDOW_SIZE",
    "BrowserError",
    "BrowserNotFoundError",
    "BrowserUnavailableError",
    "chromium_arguments",
    "chromium_driver",
    "find_chromium",
    "locate_chromium",
    "save_screenshot",
    "start_chromium",
]

#: Environment variable naming the Chromium (or Chrome) binary.
ENV_CHROMIUM = "MXCUBECORE_LIMS_CHROMIUM"
#: Environment variable naming the matching chromedriver binary.
ENV_CHROMEDRIVER = "MXCUBECORE_LIMS_CHROMEDRIVER"

#: Names looked up on ``PATH``, in order.
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: Where Debian (``chromium``, ``chromium-driver``) and others install them.
BROWSER_PLACES = ("/usr/bin/chromium", "/usr/lib/chromium/chromium", "/usr/bin/chromium-browser")
DRIVER_PLACES = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")

#: The window every test sees, so screenshots and layouts are comparable.
WINDOW_SIZE = (1280, 1600)

# Names resolve to nothing (except loopback); whatever still tries goes to a
# proxy on the discard port, which refuses. Chromium never proxies loopback.
_NO_NETWORK = (
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
    "--proxy-server=http://127.0.0.1:9",
)
_LOG_TAIL_LINES = 40


class BrowserError(LimsError):
    """The test browser could not be found, started or used."""


class BrowserNotFoundError(BrowserError, FileNotFoundError):
    """Chromium or its chromedriver is not installed (or Selenium is not)."""


class BrowserUnavailableError(BrowserError, LimsUnavailableError):
    """Chromium was found but did not start, or did not answer once started.

    Attributes:
        log: The tail of chromedriver's log, with Chromium's own output.
        log_file: The whole log.
    """

    def __init__(self, reason: str, log: str = "", log_file: Path | None = None) -> None:
        self.log = log
        self.log_file = log_file
        where = f"\nlog file: {log_file}" if log_file else ""
        super().__init__(f"{reason}{where}\n--- chromedriver and Chromium output ---\n{log.rstrip()}\n---")


def _executable(candidate: str | None) -> Path | None:
    """Returns the candidate if it is an executable file."""
    if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
        return Path(candidate)
    return None


def _find_one(
    what: str, variable: str, names: Sequence[str], places: Sequence[str], environ: Mapping[str, str]
) -> Path:
    """Finds one binary: the variable's (no fallback), else on ``PATH``, else in ``places``."""
    named = environ.get(variable)
    if named:
        # An explicit choice must not silently fall back to another binary.
        found = _executable(named)
        if found is None:
            raise BrowserNotFoundError(f"{what} not found at {named} (from {variable})")
        return found
    search_path = environ.get("PATH", os.defpath)
    candidates = [shutil.which(name, path=search_path) for name in names] + list(places)
    for candidate in candidates:
        found = _executable(candidate)
        if found is not None:
            return found
    raise BrowserNotFoundError(
        f"{what} not found on PATH ({', '.join(names)}) nor in {', '.join(places)}; install it "
        f"(Debian: apt-get install chromium chromium-driver) or set {variable}"
    )


def locate_chromium(environ: Mapping[str, str] | None = None) -> tuple[Path, Path]:
    """Finds Chromium and chromedriver, or says what is missing.

    Args:
        environ: The environment to read ``PATH``, ``MXCUBECORE_LIMS_CHROMIUM``
            and ``MXCUBECORE_LIMS_CHROMEDRIVER`` from (default ``os.environ``).

    Returns:
        The browser binary and the driver binary.

    Raises:
        BrowserNotFoundError: Either is missing; the message says how to install it.
    """
    environ = os.environ if environ is None else environ
    browser = _find_one("Chromium", ENV_CHROMIUM, BROWSER_NAMES, BROWSER_PLACES, environ)
    driver = _find_one("chromedriver", ENV_CHROMEDRIVER, ("chromedriver",), DRIVER_PLACES, environ)
    return browser, driver


def find_chromium(environ: Mapping[str, str] | None = None) -> tuple[Path, Path] | None:
    """Returns Chromium and chromedriver (as :func:`locate_chromium`), or ``None``."""
    try:
        return locate_chromium(environ)
    except BrowserNotFoundError:
        return None


def chromium_arguments(
    profile_dir: Path, *, javascript: bool = True, window_size: tuple[int, int] = WINDOW_SIZE
) -> list[str]:
    """The command-line switches of a test Chromium.

    Args:
        profile_dir: The throw-away user data directory.
        javascript: ``False`` turns scripts off for every page.
        window_size: Width and height in CSS pixels.
    """
    width, height = window_size
    arguments = [
        "--headless=new",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
        "--disable-dev-shm-usage",  # containers have a small /dev/shm
        "--disable-gpu",
        f"--window-size={width},{height}",
        f"--user-data-dir={profile_dir}",
        "--disable-extensions",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        *_NO_NETWORK,
    ]
    if not javascript:
        arguments.append("--blink-settings=scriptEnabled=false")
    return arguments


def _tail(log_file: Path) -> str:
    """The last lines of a log file, or a note that there is none."""
    try:
        lines = log_file.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "(no log was written)"
    return "\n".join(lines[-_LOG_TAIL_LINES:])


def _first_line(exc: BaseException) -> str:
    """An exception's message without the driver's native stack trace."""
    lines = str(getattr(exc, "msg", None) or exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def start_chromium(
    tmp_dir: Path,
    *,
    javascript: bool = True,
    window_size: tuple[int, int] = WINDOW_SIZE,
    arguments: Sequence[str] = (),
    binaries: tuple[Path, Path] | None = None,
    timeout: float = 30.0,
) -> WebDriver:
    """Starts a headless Chromium and returns its driver, ready for ``get()``.

    The caller quits it (``driver.quit()``), or uses :func:`chromium_driver`.

    Args:
        tmp_dir: Where a ``chromium-*`` directory (one per call) keeps the profile
            and ``chromedriver.log``.
        javascript: ``False`` turns scripts off for every page (WebDriver's own
            scripts, such as ``execute_script``, still run).
        window_size: Width and height in CSS pixels.
        arguments: More Chromium switches.
        binaries: Browser and driver; default :func:`locate_chromium`.
        timeout: Seconds a page load or a script may take.

    Returns:
        The driver, on a blank page.

    Raises:
        BrowserNotFoundError: Chromium, chromedriver or Selenium is missing.
        BrowserUnavailableError: Chromium did not start or did not answer.
    """
    browser, driver_path = binaries or locate_chromium()
    try:
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver import Chrome, ChromeOptions, ChromeService
    except ImportError as exc:
        raise BrowserNotFoundError(f"Selenium is not installed ({exc}): pip install -e '.[test]'") from exc

    tmp_dir.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix="chromium-", dir=tmp_dir))
    profile_dir, log_file = run_dir / "profile", run_dir / "chromedriver.log"
    options = ChromeOptions()
    options.binary_location = str(browser)
    for argument in [*chromium_arguments(profile_dir, javascript=javascript, window_size=window_size), *arguments]:
        options.add_argument(argument)
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    # An explicit driver path: Selenium Manager is skipped and downloads nothing.
    # --enable-chrome-logs puts Chromium's stderr into the driver's log.
    service = ChromeService(
        executable_path=str(driver_path), service_args=["--enable-chrome-logs"], log_output=str(log_file)
    )
    try:
        driver = Chrome(options=options, service=service)
    except (WebDriverException, OSError) as exc:
        service.stop()
        raise BrowserUnavailableError(
            f"{browser} did not start through {driver_path}: {_first_line(exc)}", _tail(log_file), log_file
        ) from exc
    try:
        driver.set_page_load_timeout(timeout)
        driver.set_script_timeout(timeout)
        driver.get("about:blank")
        ready = driver.execute_script("return document.readyState")
    except WebDriverException as exc:
        driver.quit()
        raise BrowserUnavailableError(
            f"{browser} started but does not answer: {_first_line(exc)}", _tail(log_file), log_file
        ) from exc
    if ready != "complete":
        driver.quit()
        raise BrowserUnavailableError(f"{browser} started but about:blank is {ready!r}", _tail(log_file), log_file)
    return driver


@contextmanager
def chromium_driver(tmp_dir: Path, **kwargs: Any) -> Iterator[WebDriver]:
    """Runs :func:`start_chromium` (same arguments) and quits the browser afterwards."""
    driver = start_chromium(tmp_dir, **kwargs)
    try:
        yield driver
    finally:
        driver.quit()


def save_screenshot(driver: RemoteWebDriver, path: Path) -> Path:
    """Saves a PNG of the whole page, also what lies below the window.

    Uses the DevTools ``Page.captureScreenshot`` with ``captureBeyondViewport``
    on Chromium; any other driver (or a DevTools failure) gets WebDriver's
    screenshot of the window.

    Args:
        driver: The browser.
        path: The PNG file to write (its directory is created).

    Returns:
        ``path``.

    Raises:
        BrowserError: Neither way produced a file.
    """
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chromium.webdriver import ChromiumDriver as Chromium

    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(driver, Chromium):
        try:
            path.write_bytes(_full_page_png(driver))
            return path
        except (WebDriverException, KeyError, ValueError):
            pass  # a window-sized screenshot is better than none
    if not driver.save_screenshot(str(path)):
        raise BrowserError(f"the browser did not write a screenshot to {path}")
    return path


def _full_page_png(driver: ChromiumDriver) -> bytes:
    """The whole page as PNG bytes, through DevTools."""
    metrics: dict[str, Any] = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics.get("cssContentSize") or metrics["contentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
    shot: dict[str, Any] = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
    )
    return base64.b64decode(shot["data"], validate=True)
