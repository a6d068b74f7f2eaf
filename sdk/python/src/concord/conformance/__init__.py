"""The Python SDK's runner of the SDK conformance suite.

It runs every case of the language-neutral cases file
(sdk/conformance/README.md) through the public API of :mod:`concord`
against a live cluster, prints one line per case and a closing
``python: N passed, N failed``, and exits non-zero when a case fails, when
none ran, or when the cluster or the file is not given. It reads
CONCORD_ENDPOINTS, CONCORD_TOKEN, CONCORD_CONFORMANCE and CONCORD_RUN_ID;
``sdk/conformance/run python`` starts a cluster and sets them::

    python -m concord.conformance                # the whole file
    python -m concord.conformance --run if_absent  # cases whose name has this

The runner is the only place that knows both the suite's terms and the
SDK's: _suite reads and checks the file, _run makes the calls, _check judges
what they returned.
"""

from ._main import main

__all__ = ["main"]
