"""Where one of our ISPyB writes spends its wall time, layer by layer (a profile, not a benchmark).

cProfile attributes greenlet switches badly (a request's wait lands in
whichever frame switched away), so this times the layers themselves: each
of the functions below is wrapped with ``time.perf_counter`` and the run
prints, per operation (``store``, ``update``, ``images`` as ``bench_ispyb.py``
makes them, against the same in-process emulator), the total and the time
spent inside each layer, outermost first:

* ``submit``: the outbox (journal, delivery, marks) and everything under it;
* ``deliver``: the delivery itself (our adapter, value objects, zeep, HTTP);
* ``zeep_call``: zeep's operation call (serialise, transport, parse);
* ``transport_post``: the HTTP exchange (requests, urllib3, the socket and the emulator);
* ``server_app``: the emulator's own work.

Usage::

    .venv/bin/python tools/profile_ispyb_layers.py [--samples 1000 --collections 200 --images 1000]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

LAYERS = ("submit", "deliver", "zeep_call", "transport_post", "server_app")


def wrap(owner: Any, name: str, label: str, spent: collections.Counter[str]) -> None:
    """Replaces ``owner.name`` by a version that adds its wall time to ``spent[label]``."""
    original = getattr(owner, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[label] += time.perf_counter() - started

    setattr(owner, name, timed)


def main() -> int:
    """Runs one warm-up pass of ours, then times store, update and images layer by layer."""
    import gevent.monkey

    gevent.monkey.patch_all(thread=False)
    import bench_ispyb as bench
    from bench_ispyb_clients import OurClient
    from bench_ispyb_emulator import (
        WS_PASSWORD,
        WS_USERNAME,
        Sizes,
        expected_from,
        make_fixture,
        set_nodelay,
        write_config,
    )
    from benchlib import lims_workdir, quiet_loggers

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--collections", type=int, default=200)
    parser.add_argument("--images", type=int, default=1000)
    arguments = parser.parse_args()

    from mxcubecore import HardwareRepository as HWR
    from zeep import transports

    from mxcubecore_lims.config.loader import load_beamline
    from mxcubecore_lims.ispyb import services
    from mxcubecore_lims.outbox import core, delivery
    from mxcubecore_lims.testing.ispyb import EmulatedIspyb

    sizes = Sizes(arguments.samples, arguments.collections, arguments.images)
    with lims_workdir("profile_ispyb_") as directory, quiet_loggers(bench.QUIET_LOGGERS):
        server = EmulatedIspyb(
            db_path=":memory:", fixture=make_fixture(sizes.samples), username=WS_USERNAME, password=WS_PASSWORD
        ).start()
        set_nodelay(server)
        try:
            expected = expected_from(server, sizes.samples)
            with contextlib.redirect_stdout(io.StringIO()):
                graph = load_beamline(write_config(directory, server.root))
            ours = OurClient(HWR.get_hardware_repository().get_hardware_object("/lims_ours"), sizes, expected)
            bench.one_pass(ours, server, "warm-up", False, None)
            spent: collections.Counter[str] = collections.Counter()
            wrap(core.Outbox, "submit", "submit", spent)
            wrap(delivery.DeliveryLoop, "_send_capped", "deliver", spent)
            wrap(services.IspybServices, "call", "zeep_call", spent)
            wrap(transports.Transport, "post", "transport_post", spent)
            wrap(type(server.app), "__call__", "server_app", spent)
            ours.begin("layers")
            print(f"{'operation':<10}{'total (ms)':>12}" + "".join(f"{layer:>16}" for layer in LAYERS))
            for operation in ("store", "update", "images"):
                ours.prepare(operation)
                spent.clear()
                started = time.perf_counter()
                ours.run(operation)
                total = (time.perf_counter() - started) * 1000
                print(f"{operation:<10}{total:>12.1f}" + "".join(f"{spent[layer] * 1000:>16.1f}" for layer in LAYERS))
            graph.close()
        finally:
            HWR.uninit_hardware_repository()
            server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
