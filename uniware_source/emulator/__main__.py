"""`python -m uniware_source.emulator`: run a local Uniware tenant with demo jobs until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from uniware_source.emulator.server import Emulator


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m uniware_source.emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="API port (0 = any free port)")
    parser.add_argument("--file-port", type=int, default=8081, help="file host port (0 = any free port)")
    parser.add_argument("--job-delay", type=float, default=2.0, help="seconds from create to COMPLETE")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--username", default="demo")
    parser.add_argument("--password", default="demo-pass")
    parser.add_argument(
        "--cache-dir", default=None, help="where generated files are kept (default: a temp dir)"
    )
    parser.add_argument("--verbose", action="store_true", help="log every request (paths only)")
    args = parser.parse_args(argv)

    emu = Emulator(
        username=args.username,
        password=args.password,
        default_job_delay=args.job_delay,
        seed=args.seed,
        cache_dir=args.cache_dir,
        host=args.host,
        port=args.port,
        file_port=args.file_port,
        verbose=args.verbose,
    )
    emu.start()
    codes = emu.seed_demo_jobs()
    print(f"Uniware emulator running (seed {args.seed})")
    print(f"  tenant (API) base URL : {emu.base_url}")
    print(f"  file host             : {emu.file_base_url}")
    print(f"  username / password   : {args.username} / {args.password}   (client_id {emu.client_id})")
    print(f"  facilities            : {', '.join(emu.facilities)}")
    print(f"  demo job codes        : {', '.join(codes)}")
    print("Press Ctrl-C to stop.", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
