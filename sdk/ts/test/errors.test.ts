// The mapping of Connect errors to typed errors, without a cluster (the
// client tests check the same against the server).

import assert from "node:assert/strict";
import { test } from "node:test";

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";

import {
  ContextConflictSchema,
  LimitExceededSchema,
  QuorumFailureSchema,
  SiblingSchema,
} from "../src/gen/concord/kv/v1/kv_pb.js";
import {
  AlreadyExistsError,
  ConcordError,
  ConflictError,
  InvalidArgumentError,
  LimitError,
  NotFoundError,
  PermissionDeniedError,
  QuorumError,
  UnauthenticatedError,
} from "../src/index.js";
import { mayTryNext, wrap } from "../src/wrap.js";

const site = { namespace: "ns", key: new Uint8Array([7]) };
const conflict = {
  desc: ContextConflictSchema,
  value: create(ContextConflictSchema, {
    siblings: [
      create(SiblingSchema, { value: new TextEncoder().encode("now") }),
      create(SiblingSchema, { tombstone: true }),
    ],
    context: new Uint8Array([4, 5]),
  }),
};

test("codes and details map to typed errors", () => {
  const cases: { err: ConnectError; type: new (...a: never[]) => ConcordError; code: string }[] = [
    { err: new ConnectError("x", Code.NotFound), type: NotFoundError, code: "not_found" },
    { err: new ConnectError("x", Code.Unauthenticated), type: UnauthenticatedError, code: "unauthenticated" },
    { err: new ConnectError("x", Code.PermissionDenied), type: PermissionDeniedError, code: "permission_denied" },
    { err: new ConnectError("x", Code.InvalidArgument), type: InvalidArgumentError, code: "invalid_argument" },
    { err: new ConnectError("x", Code.AlreadyExists), type: AlreadyExistsError, code: "already_exists" },
    { err: new ConnectError("x", Code.Internal), type: ConcordError, code: "internal" },
    { err: new ConnectError("x", Code.FailedPrecondition), type: ConcordError, code: "failed_precondition" },
  ];
  for (const c of cases) {
    const e = wrap(c.err, site);
    assert.equal(e.constructor, c.type, c.code);
    assert.equal(e.code, c.code);
    assert.equal(e.cause, c.err);
    assert.equal(e.message, "concord: x");
  }
});

test("a QuorumFailure is a QuorumError", () => {
  const err = new ConnectError("too few", Code.Unavailable, undefined, [
    { desc: QuorumFailureSchema, value: create(QuorumFailureSchema, { acks: 1, required: 2 }) },
  ]);
  const e = wrap(err, site);
  assert.ok(e instanceof QuorumError);
  assert.equal(e.code, "unavailable");
  assert.equal(e.acks, 1);
  assert.equal(e.required, 2);
  err.isWireError = true; // as parsed from a node's answer
  assert.equal(mayTryNext(err, "write"), false, "a write that got a quorum failure may have landed");
  assert.equal(mayTryNext(err, "read"), true, "a read may ask another node");
});

test("a ContextConflict carries the current object (live siblings only)", () => {
  const e = wrap(new ConnectError("changed", Code.FailedPrecondition, undefined, [conflict]), site);
  assert.ok(e instanceof ConflictError);
  assert.equal(e.current.value?.text(), "now");
  assert.equal(e.current.context.toString(), "BAU");
  assert.equal(e.current.namespace, "ns");
  const a = wrap(new ConnectError("exists", Code.AlreadyExists, undefined, [conflict]), site);
  assert.ok(a instanceof AlreadyExistsError);
  assert.equal(a.current?.siblings.length, 1);
});

test("a LimitExceeded is a LimitError with numbers", () => {
  const err = new ConnectError("slow down", Code.ResourceExhausted, undefined, [
    {
      desc: LimitExceededSchema,
      value: create(LimitExceededSchema, { limit: "writes_per_second", max: 10n, actual: 11n, retryAfterMs: 250n }),
    },
  ]);
  const e = wrap(err, site);
  assert.ok(e instanceof LimitError);
  assert.deepEqual([e.code, e.limit, e.max, e.actual, e.retryAfterMs], ["resource_exhausted", "writes_per_second", 10, 11, 250]);
});

/** A Connect error as connect-es parses it from a node's error body. */
function fromWire(code: Code, details: ConstructorParameters<typeof ConnectError>[3] = []): ConnectError {
  const e = new ConnectError("x", code, undefined, details);
  e.isWireError = true;
  return e;
}

/** A Node error as connect-node keeps it as the cause. */
function nodeError(code: string, syscall: string): Error {
  return Object.assign(new Error(`${syscall} ${code}`), { code, syscall });
}

test("mayTryNext: a read goes on after any failure without an answer or an unavailable answer", () => {
  assert.equal(mayTryNext(fromWire(Code.Unavailable), "read"), true);
  assert.equal(mayTryNext(new ConnectError("HTTP 504", Code.Unavailable), "read"), true, "a proxy's 504");
  assert.equal(mayTryNext(new ConnectError("fetch failed", Code.Unknown, undefined, undefined, new TypeError("Failed to fetch")), "read"), true);
  assert.equal(mayTryNext(new ConnectError("reset", Code.Aborted, undefined, undefined, nodeError("ECONNRESET", "read")), "read"), true);
  assert.equal(mayTryNext(fromWire(Code.InvalidArgument), "read"), false);
  assert.equal(mayTryNext(fromWire(Code.Internal), "read"), false);
  assert.equal(mayTryNext(new ConnectError("late", Code.DeadlineExceeded), "read"), false);
  assert.equal(mayTryNext(new ConnectError("stop", Code.Canceled), "read"), false);
  assert.equal(mayTryNext(new Error("plain"), "read"), false);
});

test("mayTryNext: a write goes on only when it provably did not land", () => {
  const refused = (cause: unknown) => new ConnectError("x", Code.Unavailable, undefined, undefined, cause);
  // The connection was never made.
  assert.equal(mayTryNext(refused(nodeError("ECONNREFUSED", "connect")), "write"), true);
  assert.equal(mayTryNext(refused(nodeError("ENOTFOUND", "getaddrinfo")), "write"), true);
  assert.equal(mayTryNext(refused(nodeError("EAI_AGAIN", "getaddrinfo")), "write"), true);
  assert.equal(mayTryNext(refused(nodeError("EHOSTUNREACH", "connect")), "write"), true);
  assert.equal(mayTryNext(refused(new AggregateError([nodeError("ECONNREFUSED", "connect"), nodeError("ENETUNREACH", "connect")])), "write"), true);
  // A concord node refused before coordinating.
  assert.equal(mayTryNext(fromWire(Code.Unavailable), "write"), true);
  // Not proof.
  assert.equal(mayTryNext(refused(nodeError("EHOSTUNREACH", "read")), "write"), false, "unreachable after connecting");
  assert.equal(mayTryNext(refused(new AggregateError([nodeError("ECONNREFUSED", "connect"), nodeError("ECONNRESET", "read")])), "write"), false);
  assert.equal(mayTryNext(new ConnectError("reset", Code.Aborted, undefined, undefined, nodeError("ECONNRESET", "read")), "write"), false);
  assert.equal(mayTryNext(new ConnectError("HTTP 504", Code.Unavailable), "write"), false, "a code from an HTTP status");
  assert.equal(mayTryNext(new ConnectError("HTTP 503", Code.Unavailable), "write"), false);
  assert.equal(
    mayTryNext(new ConnectError("fetch failed", Code.Unknown, undefined, undefined, new TypeError("Failed to fetch")), "write"),
    false,
    "a browser cannot tell refused from dropped",
  );
  assert.equal(
    mayTryNext(fromWire(Code.Unavailable, [{ desc: QuorumFailureSchema, value: create(QuorumFailureSchema, { acks: 1, required: 2 }) }]), "write"),
    false,
  );
  assert.equal(mayTryNext(fromWire(Code.Internal), "write"), false);
  assert.equal(mayTryNext(new Error("plain"), "write"), false);
});
