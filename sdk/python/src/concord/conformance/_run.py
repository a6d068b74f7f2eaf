"""Making each step's call through the SDK's public API."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, TextIO

import concord

from ._check import Outcome, check, current, show
from ._suite import to_bytes

#: Well formed, and unknown to every cluster.
BAD_TOKEN = "cct_0000000000000000_" + "0" * 64
#: No case lists more keys than this.
MAX_LISTED = 100_000
#: Each try of a call, in seconds.
STEP_TIMEOUT = 15.0


class CaseFailure(Exception):
    pass


@dataclass
class Runner:
    """Runs cases through clients of the cluster's endpoints. Step j of case
    i goes to endpoint (i+j) mod len(endpoints), so that consecutive steps of
    a case reach different nodes (any node gives the same answer)."""

    endpoints: list[str]
    run_id: str
    token: str
    routing: bool = False
    _clients: dict[tuple[str, str], concord.Client] = field(default_factory=dict)

    def run_all(self, suite: dict[str, Any], only: str, out: TextIO) -> tuple[int, int]:
        passed = failed = 0
        for i, case in enumerate(suite["cases"]):
            if only not in case["name"]:
                continue
            start = time.monotonic()
            try:
                self.run_case(i, case)
            except CaseFailure as e:
                failed += 1
                print(f"FAIL  {i:2d} {case['name']}: {e}", file=out, flush=True)
                continue
            passed += 1
            print(f"ok    {i:2d} {case['name']} ({time.monotonic() - start:.2f}s)", file=out, flush=True)
        return passed, failed

    def close(self) -> None:
        for c in self._clients.values():
            c.close()

    def run_case(self, index: int, case: dict[str, Any]) -> None:
        prefix = f"{self.run_id}/{index}/".encode()
        saved: dict[str, concord.Object | concord.Context] = {}
        for j, st in enumerate(case["steps"]):
            endpoint = self.endpoints[(index + j) % len(self.endpoints)]
            out = self._do(endpoint, prefix, st.get("namespace") or case["namespace"], st, saved)
            problems = check(st["op"], st, out)
            if problems:
                raise CaseFailure(f"step {j + 1} ({st['op']}): {'; '.join(problems)}")
            if "save" in st:
                kept = out.obj or current(out.err) or out.ctx
                if kept is None:
                    raise CaseFailure(f"step {j + 1} ({st['op']}): returned nothing to save")
                saved[st["save"]] = kept

    def _client_of(self, endpoint: str, token: str) -> concord.Client:
        c = self._clients.get((endpoint, token))
        if c is None:
            c = concord.Client([endpoint], token=token or None, routing=self.routing, timeout=STEP_TIMEOUT)
            self._clients[(endpoint, token)] = c
        return c

    def _do(self, endpoint: str, prefix: bytes, ns: str, st: dict[str, Any], saved: dict[str, Any]) -> Outcome:
        token = {"none": "", "bad": BAD_TOKEN}.get(st.get("token", ""), self.token)
        c = self._client_of(endpoint, token)
        key = b""
        if "key" in st:
            key = to_bytes(st["key"]) if st.get("raw_key") else prefix + to_bytes(st["key"])
        context = saved[st["context"]] if "context" in st else None
        try:
            match st["op"]:
                case "get":
                    return Outcome(obj=c.get(key, r=st.get("r"), namespace=ns))
                case "put":
                    return Outcome(ctx=c.put(
                        key, to_bytes(st["value"]), context=context, w=st.get("w"), dw=st.get("dw"),
                        if_absent=st.get("if_absent", False), if_context_current=st.get("if_context_current", False),
                        overwrite=st.get("overwrite", False), namespace=ns,
                    ))
                case "delete":
                    return Outcome(ctx=c.delete(key, context=context, w=st.get("w"), force=st.get("force", False), namespace=ns))
                case _:
                    return self._list(c, prefix, ns, st)
        except concord.ConcordError as e:
            return Outcome(err=e)
        except Exception as e:  # noqa: BLE001 (a bug of the SDK fails the case, not the run)
            raise CaseFailure(f"step ({st['op']}) raised {type(e).__name__}: {e}") from e

    def _list(self, c: concord.Client, prefix: bytes, ns: str, st: dict[str, Any]) -> Outcome:
        full = prefix + (to_bytes(st["prefix"]) if "prefix" in st else b"")
        keys: list[bytes] = []
        for k in c.list_keys(full, page_size=st.get("page_size"), limit=st.get("limit"), namespace=ns):
            if not k.startswith(full):
                raise CaseFailure(f"listed key {show(k)} is outside the prefix {show(full)}")
            keys.append(k[len(prefix):])
            if len(keys) > MAX_LISTED:
                raise CaseFailure(f"the listing went on past {MAX_LISTED} keys")
        return Outcome(keys=keys)
