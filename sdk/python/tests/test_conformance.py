"""The conformance runner: against the real cluster with this SDK's sample
and with the suite's own file, and its refusals."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from cluster import REPO, Cluster
from concord._gen.concord.admin.v1 import admin_pb2
from concord.conformance import main
from concord.conformance._suite import load

SAMPLE = Path(__file__).with_name("conformance_sample.json")
SUITE = REPO / "sdk" / "conformance" / "cases.json"
MODES = {"on_write": admin_pb2.RESOLVER_MODE_ON_WRITE, "on_read": admin_pb2.RESOLVER_MODE_ON_READ}


def setup_namespaces(cluster: Cluster, path: Path) -> None:
    """What sdk/conformance/run does before the runners: the file's namespaces."""
    for ns in json.loads(path.read_text())["namespaces"]:
        s = dict(ns.get("settings", {}))
        limits = admin_pb2.Limits(**s.pop("limits", {}))
        res = ns.get("resolver")
        resolver = (res["builtin"], MODES[res.get("mode", "on_write")]) if res else None
        cluster.create_namespace("", name=ns["name"], limits=limits, resolver=resolver, **s)


def run(cluster: Cluster | None, path: Path | str, *args: str, **env: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    e = {"CONCORD_CONFORMANCE": str(path), "CONCORD_RUN_ID": f"py-test-{uuid.uuid4().hex[:8]}"}
    if cluster is not None:
        e |= {"CONCORD_ENDPOINTS": ",".join(cluster.endpoints), "CONCORD_TOKEN": cluster.token}
    code = main(list(args), env=e | env, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def sample(cluster: Cluster) -> Path:
    setup_namespaces(cluster, SAMPLE)
    return SAMPLE


@pytest.mark.parametrize("routing", [[], ["--routing"]], ids=["endpoints", "routing"])
def test_sample_passes(cluster: Cluster, sample: Path, routing: list[str]) -> None:
    code, out, err = run(cluster, sample, *routing)
    cases = json.loads(sample.read_text())["cases"]
    assert code == 0, out + err
    lines = out.splitlines()
    assert len(lines) == len(cases) + 1 and all(line.startswith("ok ") for line in lines[:-1])
    assert lines[-1] == f"python: {len(cases)} passed, 0 failed"


def test_the_suite_file_is_one_this_runner_reads() -> None:
    # sdk/conformance/run runs it against a cluster; here, that every step
    # of it is one the runner knows.
    suite = load(SUITE)
    assert len(suite["cases"]) >= 10
    assert {st["op"] for c in suite["cases"] for st in c["steps"]} == {"put", "get", "delete", "list"}


def mutate(tmp_path: Path, fn: Any) -> Path:
    doc = json.loads(SAMPLE.read_text())
    fn(doc)
    p = tmp_path / "cases.json"
    p.write_text(json.dumps(doc))
    return p


def test_a_wrong_expectation_fails(cluster: Cluster, sample: Path, tmp_path: Path) -> None:
    def wrong(doc: dict[str, Any]) -> None:
        doc["cases"][0]["steps"][1]["expect"]["values"] = [{"utf8": "goodbye"}]
        doc["cases"][3]["steps"][2]["error"]["kind"] = "conflict"

    code, out, _ = run(cluster, mutate(tmp_path, wrong))
    assert code == 1
    fails = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert len(fails) == 2 and "values" in fails[0] and "kind: want conflict" in fails[1]
    assert out.splitlines()[-1] == "python: 3 passed, 2 failed"


def test_running_nothing_fails(cluster: Cluster, sample: Path) -> None:
    code, out, _ = run(cluster, sample, "--run", "no case has this name")
    assert code == 1 and out.splitlines()[-1] == "python: 0 passed, 0 failed"


def test_refuses_to_run_without_a_cluster_or_a_file(tmp_path: Path) -> None:
    code, _, err = run(None, SAMPLE)
    assert code == 2 and "CONCORD_ENDPOINTS" in err
    e = io.StringIO()
    code = main([], env={"CONCORD_ENDPOINTS": "http://127.0.0.1:1"}, out=io.StringIO(), err=e)
    assert code == 2 and "CONCORD_CONFORMANCE" in e.getvalue()


@pytest.mark.parametrize(
    "break_it",
    [
        lambda d: d["cases"][0]["steps"][0].update(op="frobnicate"),
        lambda d: d["cases"][0]["steps"][0].update(r=2),  # r is no field of put
        lambda d: d["cases"][0]["steps"][0].update(surprise=True),
        lambda d: d["cases"][0]["steps"][1]["expect"].update(key_count=1),
        lambda d: d["cases"][1]["steps"][3].update(context="never-saved"),
        lambda d: d["cases"][0].update(namespace="undeclared"),
        lambda d: d["cases"][0]["steps"][0].update(value={"hex": "zz"}),
        lambda d: d.update(cases=[]),
        lambda d: d.update(version=2),
    ],
)
def test_refuses_a_bad_file(tmp_path: Path, break_it: Any) -> None:
    code, out, err = run(None, mutate(tmp_path, break_it), CONCORD_ENDPOINTS="http://127.0.0.1:1")
    assert code == 2 and out == "" and err.startswith("conformance: ")


def test_module_entry_point(cluster: Cluster, sample: Path) -> None:
    env = os.environ | {
        "CONCORD_ENDPOINTS": ",".join(cluster.endpoints), "CONCORD_TOKEN": cluster.token,
        "CONCORD_CONFORMANCE": str(sample), "CONCORD_RUN_ID": f"py-test-{uuid.uuid4().hex[:8]}",
    }
    res = subprocess.run([sys.executable, "-m", "concord.conformance", "--run", "put then get"],
                         env=env, capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.splitlines()[-1] == "python: 1 passed, 0 failed"
    env.pop("CONCORD_ENDPOINTS")
    res = subprocess.run([sys.executable, "-m", "concord.conformance"], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 2
