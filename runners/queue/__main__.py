"""``python -m runners.queue [--experiments A,B,...] [--jobs N] [--gb-per-run G] [OVERRIDE ...]``.

Runs the runs of Hydra multiruns as one work queue on this machine: experiment ``A``'s runs are those of
``python -m runners.train -m experiment=A OVERRIDE ...`` (without ``--experiments``: of
``python -m runners.train -m OVERRIDE ...``), in the same run dirs. Exit code 0 when every run completed
or diverged, 1 when a run failed or is missing, 2 when a sweep cannot be composed (nothing ran).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter

from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from runners import errors
from runners.queue.leader import run_queue, summary
from runners.queue.plan import plan
from runners.queue.slots import GB_PER_RUN, choose
from runners.schema import ConfigError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m runners.queue",
        description="Run the runs of Hydra multiruns as one work queue of long-lived workers on this machine.",
    )
    parser.add_argument(
        "--experiments", default="", help="comma- or space-separated experiment names (conf/experiment/)"
    )
    parser.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=None,
        help="workers (default: usable cores; on GPUs: see --gb-per-run)",
    )
    parser.add_argument(
        "--gb-per-run",
        type=float,
        default=GB_PER_RUN,
        help=f"GPU memory one run is assumed to take when choosing the workers per GPU (default {GB_PER_RUN:g})",
    )
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, as for python -m runners.train -m")
    args = parser.parse_args(argv)
    experiments = args.experiments.replace(",", " ").split()
    sweeps = [[f"experiment={e}", *args.overrides] for e in experiments] or [args.overrides]
    try:
        items = plan(sweeps)
    except (ConfigError, HydraException, OmegaConfBaseException) as err:
        print(f"error: {errors.error_line(err)}", file=sys.stderr)
        return 2
    slots = choose(args.jobs, _uses_gpu(items), args.gb_per_run)
    sizes = ", ".join(f"{label} {n}" for label, n in Counter(i.label for i in items).items())
    workers = min(len(slots.gpus), len(items))
    print(f"queue: {len(items)} runs ({sizes}), largest first; {workers} workers ({slots.why})", flush=True)
    return summary(items, run_queue(items, slots))


def _uses_gpu(items) -> bool:
    import torch

    return torch.cuda.is_available() and any(item.device != "cpu" for item in items)


if __name__ == "__main__":
    sys.exit(main())
