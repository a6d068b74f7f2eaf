// Typed errors: every failure of a call is a ConcordError whose code is the
// Connect code in lower snake case; the rich ones are subclasses.

import { Code, ConnectError } from "@connectrpc/connect";

import type { KVObject, Sibling } from "./object.js";

/** A Connect code in lower snake case, or "siblings" for {@link SiblingsError} (client side). */
export type ErrorCode =
  | "canceled"
  | "unknown"
  | "invalid_argument"
  | "deadline_exceeded"
  | "not_found"
  | "already_exists"
  | "permission_denied"
  | "resource_exhausted"
  | "failed_precondition"
  | "aborted"
  | "out_of_range"
  | "unimplemented"
  | "internal"
  | "unavailable"
  | "data_loss"
  | "unauthenticated"
  | "siblings";

const CODES: Record<Code, ErrorCode> = {
  [Code.Canceled]: "canceled",
  [Code.Unknown]: "unknown",
  [Code.InvalidArgument]: "invalid_argument",
  [Code.DeadlineExceeded]: "deadline_exceeded",
  [Code.NotFound]: "not_found",
  [Code.AlreadyExists]: "already_exists",
  [Code.PermissionDenied]: "permission_denied",
  [Code.ResourceExhausted]: "resource_exhausted",
  [Code.FailedPrecondition]: "failed_precondition",
  [Code.Aborted]: "aborted",
  [Code.OutOfRange]: "out_of_range",
  [Code.Unimplemented]: "unimplemented",
  [Code.Internal]: "internal",
  [Code.Unavailable]: "unavailable",
  [Code.DataLoss]: "data_loss",
  [Code.Unauthenticated]: "unauthenticated",
};

/** The lower snake case name of a Connect code. */
export function codeName(code: Code): ErrorCode {
  return CODES[code] ?? "unknown";
}

/**
 * The base of every error the client throws. `code` is the Connect code
 * (lower snake case); `cause` is the underlying ConnectError, if any.
 */
export class ConcordError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(`concord: ${message}`, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/**
 * Fewer replicas than required answered in time (UNAVAILABLE with a
 * QuorumFailure). A failed write may still be present on some replicas.
 */
export class QuorumError extends ConcordError {
  constructor(
    readonly acks: number,
    readonly required: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super("unavailable", message, options);
  }
}

/**
 * A put with `ifContextCurrent` found the key changed since the context was
 * read (FAILED_PRECONDITION). `current` is the key's object now: merge with
 * it and write again with `{ context: err.current }`, no read needed.
 */
export class ConflictError extends ConcordError {
  constructor(
    readonly current: KVObject,
    message: string,
    options?: { cause?: unknown },
  ) {
    super("failed_precondition", message, options);
  }
}

/** A put with `ifAbsent` met a live value (ALREADY_EXISTS); `current` is the key's object when the server sent it. */
export class AlreadyExistsError extends ConcordError {
  constructor(
    readonly current: KVObject | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super("already_exists", message, options);
  }
}

/**
 * A namespace limit was passed: a size (`max_value_bytes`, `max_key_bytes`,
 * `page_size`; code invalid_argument), `max_siblings`, a request rate
 * (`reads_per_second`, `writes_per_second`) or a quota (resource_exhausted).
 * `retryAfterMs` is the wait before the node takes the request again (0 for
 * limits that waiting does not lift).
 */
export class LimitError extends ConcordError {
  constructor(
    code: ErrorCode,
    readonly limit: string,
    readonly max: number,
    readonly actual: number,
    readonly retryAfterMs: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/** The namespace does not exist, or the token is for another one (NOT_FOUND; a missing key is not an error). */
export class NotFoundError extends ConcordError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("not_found", message, options);
  }
}

/** No credential, or one the cluster does not know (UNAUTHENTICATED). */
export class UnauthenticatedError extends ConcordError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("unauthenticated", message, options);
  }
}

/** The token's scopes do not allow the call (PERMISSION_DENIED). */
export class PermissionDeniedError extends ConcordError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("permission_denied", message, options);
  }
}

/**
 * A bad request (INVALID_ARGUMENT): empty key, foreign or altered context,
 * r or w above n, a delete without context or force. A size limit (a key or
 * value too long, a page too large) is a {@link LimitError} with code
 * invalid_argument, and `instanceof InvalidArgumentError` holds for it too.
 */
export class InvalidArgumentError extends ConcordError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("invalid_argument", message, options);
  }

  static [Symbol.hasInstance](x: unknown): boolean {
    return x instanceof ConcordError && x.code === "invalid_argument";
  }
}

/**
 * Thrown by `KVObject.value` when the key has concurrent versions: all of
 * them are in `siblings`. Merge them (`obj.resolve(fn)`) and write the
 * result back with the object's context.
 */
export class SiblingsError extends ConcordError {
  readonly siblings: readonly Sibling[];

  constructor(siblings: readonly Sibling[]) {
    super("siblings", `the key has ${siblings.length} siblings: merge them (obj.resolve) and write back with the object's context`);
    this.siblings = siblings;
  }
}
