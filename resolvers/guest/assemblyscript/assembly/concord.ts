// Write concord resolvers (ABI v1, resolvers/ABI.md) in AssemblyScript.
//
// A resolver is a function from Input to Resolution, registered once, and
// the two exports below re-exported from the entry file:
//
//   import { Input, Resolution, register } from "@concord-kv/resolver-guest";
//   export { concord_abi_v1, resolve } from "@concord-kv/resolver-guest";
//
//   register((input: Input): Resolution => { ... });
//
// The siblings come in any order and the result must not depend on it, nor
// on earlier calls: instances are reused and replicas must converge. Values
// are bytes (Uint8Array); split, join and compareBytes work on bytes, so
// that sorting follows UTF-8 byte order like the Go and Rust libraries, not
// UTF-16 order as String comparison does.

// The host functions of ABI v1.

// @ts-ignore: decorator
@external("concord", "input_read")
declare function hostInputRead(ptr: usize, len: u32): i32;
// @ts-ignore: decorator
@external("concord", "output_write")
declare function hostOutputWrite(ptr: usize, len: u32): i32;
// @ts-ignore: decorator
@external("concord", "config_read")
declare function hostConfigRead(ptr: usize, len: u32): i32;
// @ts-ignore: decorator
@external("concord", "log")
declare function hostLog(level: i32, ptr: usize, len: u32): void;

/** ABI v1 statuses. */
export enum Status {
  OK = 0,
  DELETE = 1,
  DEFER = 2,
  ERROR = 3,
}

/** Severity of a log line. */
export enum Level {
  DEBUG = 0,
  INFO = 1,
  WARN = 2,
  ERROR = 3,
}

/** One concurrent version of the key. */
export class Sibling {
  constructor(
    /** The stored value; empty for a tombstone. */
    public value: Uint8Array,
    /** A causal delete. */
    public tombstone: bool,
    /** The coordinator's wall clock at write, Unix nanoseconds (not a causal order). */
    public timestamp: i64,
  ) {}

}

/** What one resolve call receives. */
export class Input {
  constructor(
    public namespace: string,
    public key: Uint8Array,
    /** The siblings, in an arbitrary order. */
    public siblings: Sibling[],
  ) {}

  /** The values of the siblings that are not tombstones. */
  live(): Uint8Array[] {
    const out = new Array<Uint8Array>(0);
    for (let i = 0; i < this.siblings.length; i++) {
      const s = this.siblings[i];
      if (!s.tombstone) out.push(s.value);
    }
    return out;
  }
}

/** The outcome of a merge. Make one with the static functions. */
export class Resolution {
  private constructor(public status: Status, public value: Uint8Array, public message: string) {}

  /** The merged value (an empty value is a value, not a delete). */
  static ok(value: Uint8Array): Resolution {
    return new Resolution(Status.OK, value, "");
  }
  /** The merged value, from a string encoded as UTF-8. */
  static text(value: string): Resolution {
    return new Resolution(Status.OK, Uint8Array.wrap(String.UTF8.encode(value)), "");
  }
  /** The merge is a tombstone. */
  static delete(): Resolution {
    return new Resolution(Status.DELETE, new Uint8Array(0), "");
  }
  /** Keep the siblings as they are. */
  static defer(): Resolution {
    return new Resolution(Status.DEFER, new Uint8Array(0), "");
  }
  /** The merge failed: message is logged, the siblings are kept. */
  static error(message: string): Resolution {
    return new Resolution(Status.ERROR, new Uint8Array(0), message);
  }
}

/** Sends one line to the host's log (at most 32 lines of 1 KiB per call are kept). */
export function log(level: Level, message: string): void {
  const buf = String.UTF8.encode(message);
  hostLog(level, changetype<usize>(buf), <u32>buf.byteLength);
}

/** The namespace's resolver config, as uploaded with the module (empty if none). */
export function config(): Uint8Array {
  const n = hostConfigRead(0, 0);
  if (n <= 0) return new Uint8Array(0);
  const buf = new Uint8Array(n);
  if (hostConfigRead(buf.dataStart, <u32>n) != n) return new Uint8Array(0);
  return buf;
}

/** Decodes UTF-8 bytes (a value, a key, a line) to a string. */
export function text(bytes: Uint8Array): string {
  return String.UTF8.decodeUnsafe(bytes.dataStart, bytes.length);
}

/** Splits bytes at every sep byte; the parts are views of the input. */
export function split(bytes: Uint8Array, sep: u8): Uint8Array[] {
  const out = new Array<Uint8Array>(0);
  const p = bytes.dataStart;
  const n = bytes.length;
  let start = 0;
  for (let i = 0; i < n; i++) {
    if (load<u8>(p + <usize>i) == sep) {
      out.push(bytes.subarray(start, i));
      start = i + 1;
    }
  }
  out.push(bytes.subarray(start, n));
  return out;
}

/** Concatenates parts with a sep byte between them. */
export function join(parts: Uint8Array[], sep: u8): Uint8Array {
  let n = parts.length > 0 ? parts.length - 1 : 0;
  for (let i = 0; i < parts.length; i++) n += parts[i].length;
  const out = new Uint8Array(n);
  let off = 0;
  for (let i = 0; i < parts.length; i++) {
    if (i > 0) out[off++] = sep;
    out.set(parts[i], off);
    off += parts[i].length;
  }
  return out;
}

/** Compares bytes lexicographically: negative, zero or positive. */
export function compareBytes(a: Uint8Array, b: Uint8Array): i32 {
  const d = memory.compare(a.dataStart, b.dataStart, <usize>min(a.length, b.length));
  return d != 0 ? d : a.length - b.length;
}

/** A malformed frame; decode returns null and sets this. */
let frameError = "";

/** Decodes an ABI v1 input frame (ABI.md §3); null if it is malformed. */
export function decode(frame: Uint8Array): Input | null {
  const r = new Reader(frame);
  if (r.u8() != 1) return r.fail("unsupported version");
  const nsLen = <i32>r.u16();
  const ns = r.take(nsLen);
  const keyLen = r.u32();
  const key = r.take(keyLen);
  const count = r.u32();
  if (r.bad) return r.fail("truncated header");
  if (count > (frame.length - r.off) / 13) return r.fail("sibling count exceeds the frame");
  const siblings = new Array<Sibling>(0);
  for (let i = 0; i < count; i++) {
    const flags = r.u8();
    const timestamp = r.i64();
    const value = r.take(r.u32());
    if (r.bad) return r.fail("truncated sibling");
    if (flags & ~1) return r.fail("unknown flag bits");
    siblings.push(new Sibling(value, (flags & 1) != 0, timestamp));
  }
  if (r.off != frame.length) return r.fail("trailing bytes");
  return new Input(String.UTF8.decodeUnsafe(ns.dataStart, ns.length), key, siblings);
}

class Reader {
  off: i32 = 0;
  bad: bool = false;
  constructor(private b: Uint8Array) {}

  take(n: i32): Uint8Array {
    if (this.bad || n < 0 || n > this.b.length - this.off) {
      this.bad = true;
      return new Uint8Array(0);
    }
    const p = this.b.subarray(this.off, this.off + n);
    this.off += n;
    return p;
  }
  u8(): u8 {
    const p = this.take(1);
    return this.bad ? 0 : load<u8>(p.dataStart);
  }
  u16(): u16 {
    const p = this.take(2);
    return this.bad ? 0 : load<u16>(p.dataStart);
  }
  u32(): i32 {
    const p = this.take(4);
    const v: u32 = this.bad ? 0 : load<u32>(p.dataStart);
    if (v > <u32>i32.MAX_VALUE) this.bad = true;
    return <i32>v;
  }
  i64(): i64 {
    const p = this.take(8);
    return this.bad ? 0 : load<i64>(p.dataStart);
  }
  fail(why: string): Input | null {
    frameError = "concord: malformed input frame: " + why;
    return null;
  }
}

let resolver: ((input: Input) => Resolution) | null = null;

/** Makes fn the module's resolver. Call it once, at the top level of the entry file. */
export function register(fn: (input: Input) => Resolution): void {
  resolver = fn;
}

function fail(message: string): i32 {
  log(Level.ERROR, message);
  return Status.ERROR;
}

/** The ABI v1 marker; never called. Re-export it from the entry file. */
export function concord_abi_v1(): void {}

/** The ABI v1 entry point. Re-export it from the entry file. */
export function resolve(inputLen: u32): i32 {
  const fn = resolver;
  if (fn == null) return fail("concord: no resolver registered: call register() at the top level");
  const frame = new Uint8Array(<i32>inputLen);
  const n = hostInputRead(frame.dataStart, inputLen);
  if (n != <i32>inputLen) return fail("concord: input_read returned " + n.toString());
  const input = decode(frame);
  if (input == null) return fail(frameError);
  const res = fn(input);
  if (res.status == Status.ERROR) return fail(res.message);
  if (res.status == Status.OK && res.value.length > 0) {
    if (hostOutputWrite(res.value.dataStart, <u32>res.value.length) < 0) return fail("concord: output_write failed");
  }
  return res.status;
}
