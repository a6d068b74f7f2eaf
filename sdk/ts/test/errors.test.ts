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
import { noAnswer, wrap } from "../src/wrap.js";

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
  assert.equal(noAnswer(err), false, "a quorum failure is an answer");
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

test("noAnswer: only a node that did not answer may be skipped", () => {
  assert.equal(noAnswer(new ConnectError("refused", Code.Unavailable)), true);
  assert.equal(noAnswer(new ConnectError("fetch failed", Code.Unknown, undefined, undefined, new TypeError("Failed to fetch"))), true);
  assert.equal(noAnswer(new ConnectError("?", Code.Unknown)), false);
  assert.equal(noAnswer(new ConnectError("bad", Code.InvalidArgument)), false);
  assert.equal(noAnswer(new Error("plain")), false);
});
