"""Every change ``mxcubecore-lims web`` makes to mxcubeweb 4.791 at run time.

Three, each in one function here, applied by :func:`applied` for as long as
mxcubeweb runs and undone after, and each described in ``docs/mxcubeweb.md``
with what we would report upstream:

1. **Our loader in place of mxcubecore's.** mxcubeweb offers no hook for the
   configuration loader: ``mxcubeweb.build_server_and_config`` calls
   ``mxcubecore.HardwareRepository.init_hardware_repository`` by attribute, so
   that attribute is swapped for :func:`init_with_our_loader` while it runs.
   Everything after (``find_in_repository("mxcube-web")``, the adapters over
   ``hardware_objects``) is mxcubeweb's, against the repository our loader
   installs.
2. **``Lims.get_proposal_info``.** mxcubeweb's ``GET /lims/proposal`` and the
   commissioning branch of ``select_session`` call a method its ``Lims``
   component does not define (AttributeError, HTTP 500). Added only while
   missing, so an mxcubeweb that fixes it keeps its own.
3. **Signing out forgets the LIMS user.** mxcubeweb calls the LIMS object's
   ``remove_user`` on sign-out only when an SSO logout URI is configured, so a
   signed-out proposal would stay registered and, under the one-proposal rule,
   keep every other proposal out until a restart.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from mxcubecore_lims.config.loader import LoadedBeamline, load_beamline
from mxcubecore_lims.errors import LimsConfigError

__all__ = ["applied", "init_with_our_loader", "loaded_graphs", "proposal_info"]

log = logging.getLogger("mxcubecore_lims.web")

#: Graphs loaded through the seam, to close at exit.
loaded_graphs: list[LoadedBeamline] = []


def init_with_our_loader(
    configuration_path: str,
    yaml_export_directory: Path | None = None,
    config_validation: str = "lax",
) -> None:
    """``init_hardware_repository`` with mxcubecore's signature, our loader inside.

    Args:
        configuration_path: The lookup path, directories separated by ``:``
            (mxcubeweb's ``-r``).
        yaml_export_directory: mxcubeweb's ``--export-yaml-config``; use
            ``mxcubecore-lims convert`` instead.
        config_validation: ``"strict"`` makes undeclared properties errors.

    Raises:
        LimsConfigError: The configuration does not load (file and line named),
            or a YAML export was asked for.
    """
    if yaml_export_directory:
        raise LimsConfigError("--export-yaml-config is mxcubecore's loader's; use 'mxcubecore-lims convert'")
    directories = [p for p in str(configuration_path).split(os.pathsep) if p]
    loaded_graphs.append(load_beamline(directories, strict=config_validation == "strict"))


def proposal_info() -> dict[str, Any]:
    """What ``GET /lims/proposal`` answers under ``"Proposal"``: the active session.

    The fields are those mxcubeweb's ``login_info`` lists per session
    (``Session.__dict__``); an empty dict while no session is active.
    """
    from mxcubecore import HardwareRepository as HWR

    session = HWR.beamline.lims.get_active_session()
    return dict(session.__dict__) if session is not None else {}


def _swap(owner: Any, name: str, replacement: Any, undo: list[Callable[[], None]]) -> None:
    had = name in vars(owner)
    original = vars(owner).get(name)
    setattr(owner, name, replacement)

    def restore() -> None:
        if had:
            setattr(owner, name, original)
        else:
            delattr(owner, name)

    undo.append(restore)


def _use_our_loader(undo: list[Callable[[], None]]) -> None:
    from mxcubecore import HardwareRepository

    _swap(HardwareRepository, "init_hardware_repository", init_with_our_loader, undo)


def _add_get_proposal_info(undo: list[Callable[[], None]]) -> None:
    from mxcubeweb.core.components.lims import Lims

    if hasattr(Lims, "get_proposal_info"):
        log.info("mxcubeweb defines Lims.get_proposal_info: its own is used")
        return
    _swap(Lims, "get_proposal_info", lambda self: proposal_info(), undo)


def _forget_lims_user_on_signout(undo: list[Callable[[], None]]) -> None:
    from mxcubeweb.core.components.user.usermanager import BaseUserManager

    original = BaseUserManager.signout

    def signout(self: Any) -> None:
        from flask_login import current_user
        from mxcubecore import HardwareRepository as HWR

        username = getattr(current_user, "username", None)
        original(self)
        if username:
            HWR.beamline.lims.remove_user(username)

    signout.__doc__ = original.__doc__
    _swap(BaseUserManager, "signout", signout, undo)


@contextlib.contextmanager
def applied() -> Iterator[None]:
    """Applies the three patches for the ``with`` block (the server's life), then undoes them."""
    undo: list[Callable[[], None]] = []
    try:
        _use_our_loader(undo)
        _add_get_proposal_info(undo)
        _forget_lims_user_on_signout(undo)
        yield
    finally:
        for restore in reversed(undo):
            restore()
