"""A real concord cluster for the tests: `concord dev` built from this
repository, and the admin calls the tests need (namespaces, tokens,
metrics). Every wait is bounded."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from concord._gen.concord.admin.v1 import admin_pb2
from concord._gen.concord.admin.v1.admin_connect import AdminServiceClientSync
from concord._gen.concord.kv.v1 import kv_pb2
from concord._gen.concord.kv.v1.kv_connect import KVServiceClientSync

REPO = Path(__file__).resolve().parents[3]
_NODE = re.compile(r"^\s+node \d+\s+(\S+)\s+\(gossip \S+, admin (\S+)\)")
_TOKEN = re.compile(r"export CONCORD_TOKEN=(\S+)")
T = TypeVar("T")


def build(out_dir: Path) -> Path:
    """Builds cmd/concord from the repository (the Go build cache makes a
    second build quick)."""
    binary = out_dir / "concord"
    subprocess.run(["go", "build", "-o", str(binary), "./cmd/concord"], cwd=REPO, check=True, timeout=900)
    return binary


def until(what: str, fn: Callable[[], T], *, timeout: float = 20.0, every: float = 0.1) -> T:
    """fn() once it stops raising, trying for at most timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return fn()
        except Exception:
            if time.monotonic() >= deadline:
                raise AssertionError(f"{what}: still failing after {timeout}s") from None
            time.sleep(every)


@dataclass
class Cluster:
    endpoints: list[str]
    admin_urls: list[str]
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}

    def admin(self, i: int = 0) -> AdminServiceClientSync:
        return AdminServiceClientSync(self.endpoints[i], send_compression=None, timeout_ms=10_000)

    def kv(self, i: int = 0) -> KVServiceClientSync:
        return KVServiceClientSync(self.endpoints[i], send_compression=None, timeout_ms=10_000)

    def create_namespace(
        self, prefix: str, *, n: int, r: int = 0, w: int = 0,
        limits: admin_pb2.Limits | None = None, resolver: tuple[str, int] | None = None, name: str | None = None,
    ) -> str:
        """Creates a namespace (a unique name with prefix, unless name is
        given) and waits until every node serves it."""
        name = name or f"{prefix}-{uuid.uuid4().hex[:8]}"
        settings = admin_pb2.NamespaceSettings(n=n, r=r, w=w, limits=limits)
        self.admin().create_namespace(admin_pb2.CreateNamespaceRequest(name=name, settings=settings), headers=self.headers)
        if resolver:
            builtin, mode = resolver
            self.admin().upload_resolver(
                admin_pb2.UploadResolverRequest(namespace=name, builtin=builtin, mode=mode), headers=self.headers
            )
        for i in range(len(self.endpoints)):
            def ready(i: int = i) -> None:
                ns = self.admin(i).get_namespace(admin_pb2.GetNamespaceRequest(name=name), headers=self.headers).namespace
                if resolver and ns.resolver.name != resolver[0]:
                    raise LookupError("no resolver yet")
                self.kv(i).get(kv_pb2.GetRequest(namespace=name, key=b"\x00ready"), headers=self.headers)
            until(f"namespace {name} on node {i + 1}", ready)
        return name

    def create_token(self, namespace: str, *scopes: int) -> str:
        """A namespace token with scopes, once every node knows it."""
        res = self.admin().create_token(
            admin_pb2.CreateTokenRequest(namespace=namespace, scopes=list(scopes), description="sdk/python tests"),
            headers=self.headers,
        )
        for i in range(len(self.endpoints)):
            until(
                f"token on node {i + 1}",
                lambda i=i: self.kv(i).get_topology(
                    kv_pb2.GetTopologyRequest(namespace=namespace), headers={"authorization": f"Bearer {res.secret}"}
                ),
            )
        return res.secret

    def metric(self, name: str) -> list[float]:
        """The value of an unlabelled counter on each node."""
        out = []
        for url in self.admin_urls:
            with urllib.request.urlopen(f"{url}/metrics", timeout=10) as res:  # noqa: S310 (loopback)
                text = res.read().decode()
            m = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
            if m is None:
                raise AssertionError(f"{url}/metrics has no {name}")
            out.append(float(m.group(1)))
        return out


class DevCluster:
    """`concord dev` as a child process: started, read, stopped."""

    def __init__(self, binary: Path, work: Path, nodes: int = 3) -> None:
        (work / "data").mkdir()
        self._log = open(work / "dev.log", "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [str(binary), "dev", "--nodes", str(nodes), "--api-addr", "127.0.0.1:0", "--data-dir", str(work / "data")],
            stdout=subprocess.PIPE, stderr=self._log, text=True, start_new_session=True,
        )
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, args=(lines,), daemon=True).start()
        endpoints, admins, token = [], [], None
        deadline = time.monotonic() + 120
        while token is None or len(endpoints) < nodes:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                self.stop()
                raise RuntimeError(f"concord dev did not come up; see {work / 'dev.log'}")
            if m := _NODE.match(line):
                endpoints.append(m.group(1))
                admins.append(m.group(2))
            elif m := _TOKEN.search(line):
                token = m.group(1)
        self.cluster = Cluster(endpoints, admins, token)
        for e in endpoints:
            until(f"{e}/readyz", lambda e=e: urllib.request.urlopen(f"{e}/readyz", timeout=5).close(), timeout=60)

    def _read(self, lines: queue.Queue[str | None]) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            lines.put(line)
        lines.put(None)

    def stop(self) -> None:
        """Ctrl-C, then at most 30 s for a clean stop, then kill."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log.close()

