"""The command: environment, file, run, exit code."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping, Sequence
from typing import TextIO

from ._run import Runner
from ._suite import SuiteError, load


def main(
    args: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Runs the suite; returns the exit code: 0 all passed, 1 a case failed
    or none ran, 2 a missing setting or a bad file."""
    env = os.environ if env is None else env
    out = out or sys.stdout
    err = err or sys.stderr
    p = argparse.ArgumentParser(prog="python -m concord.conformance", description=__doc__)
    p.add_argument("--run", default="", help="run only the cases whose name contains this text")
    p.add_argument("--routing", action="store_true", help="route each key to its replicas (Client(routing=True))")
    opts = p.parse_args(args)
    endpoints = [e.strip() for e in env.get("CONCORD_ENDPOINTS", "").split(",") if e.strip()]
    if not endpoints:
        print("conformance: CONCORD_ENDPOINTS is not set (comma-separated API endpoints of a cluster); "
              "sdk/conformance/run starts one and sets it", file=err)
        return 2
    path = env.get("CONCORD_CONFORMANCE", "")
    if not path:
        print("conformance: CONCORD_CONFORMANCE is not set (the path of sdk/conformance/cases.json)", file=err)
        return 2
    try:
        suite = load(path)
    except SuiteError as e:
        print(f"conformance: {e}", file=err)
        return 2
    run_id = env.get("CONCORD_RUN_ID") or f"python-{time.time_ns()}"
    runner = Runner(endpoints, run_id, env.get("CONCORD_TOKEN", ""), routing=opts.routing)
    try:
        passed, failed = runner.run_all(suite, opts.run, out)
    finally:
        runner.close()
    print(f"python: {passed} passed, {failed} failed", file=out)
    return 1 if failed or not passed else 0
