// The one place that turns a Connect error into the SDK's typed errors.

import { Code, ConnectError } from "@connectrpc/connect";

import {
  AlreadyExistsError,
  codeName,
  ConcordError,
  ConflictError,
  InvalidArgumentError,
  LimitError,
  NotFoundError,
  PermissionDeniedError,
  QuorumError,
  UnauthenticatedError,
} from "./errors.js";
import { ContextConflictSchema, LimitExceededSchema, QuorumFailureSchema } from "./gen/concord/kv/v1/kv_pb.js";
import { KVObject, siblingsOf, type Merge } from "./object.js";

/** Where a call went: to build a conflict's current object. */
export interface CallSite {
  namespace: string;
  key: Uint8Array;
  merge?: Merge | undefined;
}

/** A uint64 detail field as a number (exact up to 2^53). */
const num = (b: bigint): number => Number(b);

/** Turns any error of a call into a ConcordError; the ConnectError is its cause. */
export function wrap(err: unknown, site: CallSite): ConcordError {
  if (err instanceof ConcordError) return err;
  const ce = ConnectError.from(err);
  const msg = ce.rawMessage;
  const opts = { cause: ce };
  const quorum = ce.findDetails(QuorumFailureSchema)[0];
  if (quorum !== undefined) return new QuorumError(quorum.acks, quorum.required, msg, opts);
  const conflict = ce.findDetails(ContextConflictSchema)[0];
  const current =
    conflict === undefined
      ? undefined
      : new KVObject({
          namespace: site.namespace,
          key: site.key,
          siblings: siblingsOf(conflict.siblings),
          context: conflict.context,
          merge: site.merge,
        });
  const limit = ce.findDetails(LimitExceededSchema)[0];
  if (limit !== undefined) {
    return new LimitError(codeName(ce.code), limit.limit, num(limit.max), num(limit.actual), num(limit.retryAfterMs), msg, opts);
  }
  switch (ce.code) {
    case Code.FailedPrecondition:
      if (current !== undefined) return new ConflictError(current, msg, opts);
      break;
    case Code.AlreadyExists:
      return new AlreadyExistsError(current, msg, opts);
    case Code.NotFound:
      return new NotFoundError(msg, opts);
    case Code.Unauthenticated:
      return new UnauthenticatedError(msg, opts);
    case Code.PermissionDenied:
      return new PermissionDeniedError(msg, opts);
    case Code.InvalidArgument:
      return new InvalidArgumentError(msg, opts);
  }
  return new ConcordError(codeName(ce.code), msg, opts);
}

/** What a call may have done: a read nothing, a write maybe applied. */
export type Op = "read" | "write";

/**
 * Whether a call that failed with err may go to the next node (the Go
 * SDK's rule, sdk/go/retry.go). A read may whenever the node did not
 * answer or answered unavailable. A write may only when the error proves
 * it was not applied, since a second coordinator would apply it again (a
 * duplicate sibling, an increment counted twice):
 *
 * - the connection was never made (Node: refused, unresolvable host, no
 *   route before connecting), so the request did not leave; or
 * - a concord node answered with a Connect error body saying unavailable
 *   without a QuorumFailure: it refused before coordinating (with the
 *   detail it did coordinate, and some replicas may hold the write).
 *
 * Not proof: a code connect-es derived from an HTTP status (a proxy's 502,
 * 503, 504 or 429 has no Connect error body, so the request may have
 * reached a node behind it), a connection dropped after the request was
 * sent, or a browser's fetch TypeError (which cannot tell a refused
 * connection from a dropped one).
 */
export function mayTryNext(err: unknown, op: Op): boolean {
  if (!(err instanceof ConnectError)) return false;
  // isWireError: connect-es parsed a Connect error body (a JSON error of a
  // unary call, the end of a stream), as connect-go's IsWireError; an
  // error built from the HTTP status or a transport failure is not one.
  if (err.isWireError) {
    if (err.code !== Code.Unavailable) return false;
    return op === "read" || err.findDetails(QuorumFailureSchema).length === 0;
  }
  if (op === "read") return err.code !== Code.Canceled && err.code !== Code.DeadlineExceeded;
  return neverConnected(err.cause, 0);
}

/** Node error codes of a connection that was never made, whatever the syscall. */
const DIAL_FAILED = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN"]);
/** Node error codes that mean the same only when connect(2) itself failed. */
const CONNECT_FAILED = new Set(["EHOSTUNREACH", "ENETUNREACH", "EADDRNOTAVAIL", "ETIMEDOUT"]);

/**
 * Whether a transport error's cause chain (connect-node keeps Node's error
 * as the cause) shows a connection that was never established. An
 * AggregateError (Node trying each address of a host) counts when every
 * attempt failed so. A browser's TypeError carries no such code.
 */
function neverConnected(cause: unknown, depth: number): boolean {
  if (!(cause instanceof Error) || depth > 8) return false;
  if (cause instanceof AggregateError && cause.errors.length > 0) {
    return cause.errors.every((e) => neverConnected(e, depth + 1));
  }
  const { code, syscall } = cause as { code?: unknown; syscall?: unknown };
  if (typeof code === "string") {
    if (DIAL_FAILED.has(code)) return true;
    if (CONNECT_FAILED.has(code) && syscall === "connect") return true;
  }
  return neverConnected(cause.cause, depth + 1);
}
