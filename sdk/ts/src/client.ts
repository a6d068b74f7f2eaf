// The client: the KV calls over a Connect transport, the same in Node and
// browsers. The entry points (index.ts, browser.ts) give it the transport
// of their platform.

import { createClient as createConnectClient, type Client as ConnectClient, type Interceptor, type Transport } from "@connectrpc/connect";

import { toBytes, type Bytes } from "./bytes.js";
import { ConcordError, ConflictError } from "./errors.js";
import { KVService } from "./gen/concord/kv/v1/kv_pb.js";
import { Context, contextBytes, KVObject, siblingsOf, type ContextLike, type Merge, type Sibling } from "./object.js";
import { Router, topologyOf, type RoutingOptions, type Topology } from "./routing.js";
import { mayTryNext, wrap, type CallSite } from "./wrap.js";

/** Options of {@link createClient}. Give `endpoints` or `transport`. */
export interface ClientOptions {
  /**
   * Base URLs of concord nodes' APIs, e.g. "http://127.0.0.1:7700". Calls
   * go to the first until it does not answer, then to the next.
   */
  endpoints?: string | readonly string[];
  /** A ready Connect transport instead of endpoints (no routing then). */
  transport?: Transport;
  /** The bearer credential: a namespace token (cct_...) or the admin credential. Default none. */
  token?: string;
  /** The namespace of calls that name none. Default "default". */
  namespace?: string;
  /**
   * Partition-aware routing: send each call to a node of the key's
   * preference list (needs `endpoints`). Default off.
   */
  routing?: boolean | RoutingOptions;
  /**
   * The sibling policy of `KVObject.value`: by default a key with siblings
   * throws a SiblingsError there; with a merge, `value` returns the merge.
   */
  merge?: Merge;
  /** Deadline of each unary call in ms. Default 30000; 0 for none. */
  timeoutMs?: number;
  /** Send JSON instead of binary Protobuf. Default false. */
  json?: boolean;
  /** Node only: "1.1" (default) or "2" (HTTP/2; cleartext h2c for http:// endpoints). */
  httpVersion?: "1.1" | "2";
  /** Connect interceptors, run on every call (with endpoints; a ready transport has its own). */
  interceptors?: Interceptor[];
}

/** What a platform entry point gives the client: a transport per base URL. */
export type TransportFactory = (
  baseUrl: string,
  o: { interceptors: Interceptor[]; useBinaryFormat: boolean; httpVersion: "1.1" | "2" },
) => Transport;

/** Options every call takes. */
export interface CallOptions {
  /** The namespace; default the client's. */
  namespace?: string;
  /** Cancels the call. */
  signal?: AbortSignal;
  /** Deadline in ms; default the client's timeoutMs. */
  timeoutMs?: number;
}

export interface GetOptions extends CallOptions {
  /** Replies to wait for, 1 to the namespace's n; default (or 0) the namespace's r. */
  r?: number;
}

export interface PutOptions extends CallOptions {
  /** The context of an earlier read or write of this key (or the object that carries it); none: a blind write that adds a sibling. */
  context?: ContextLike;
  /** Acknowledgements to wait for; default (or 0) the namespace's w. */
  w?: number;
  /** Durable acknowledgements to wait for (sync namespaces only); default (or 0) the namespace's dw. */
  dw?: number;
  /** Fail with AlreadyExistsError when the key has a live value. */
  ifAbsent?: boolean;
  /** Fail with ConflictError when the key changed since `context` was read (best effort, not linearizable). */
  ifContextCurrent?: boolean;
  /**
   * Without `context`: replace every version the coordinating node holds instead of adding a sibling
   * (the last writer wins, without a read first). Versions written concurrently through other nodes
   * that the coordinator has not seen yet stay as siblings. Not with `context`.
   */
  overwrite?: boolean;
  /** Return the siblings after the write in `Written.siblings`. */
  returnSiblings?: boolean;
}

export interface DeleteOptions extends CallOptions {
  /** The context of an earlier read (or the object); the tombstone replaces what it saw. */
  context?: ContextLike;
  /** Acknowledgements to wait for; default (or 0) the namespace's w. */
  w?: number;
  /** Delete without a context: the tombstone replaces every version the coordinator holds. */
  force?: boolean;
}

export interface UpdateOptions extends CallOptions {
  r?: number;
  w?: number;
  dw?: number;
  /** Attempts before the last ConflictError is thrown. Default 20. */
  maxAttempts?: number;
}

export interface ListOptions {
  namespace?: string;
  /** Keys per streamed page, at most 10000; default (or 0) 1000. */
  pageSize?: number;
  /** Stop after this many keys; default (or 0) all. */
  limit?: number;
  signal?: AbortSignal;
  /** Deadline of the whole listing in ms; default none. */
  timeoutMs?: number;
}

/** What a put, delete or update returns. */
export interface Written {
  /** The key's context after the write: pass it (or this) as `opts.context` to write again. */
  readonly context: Context;
  /** The ID of the node that coordinated the write. */
  readonly coordinator: string;
  /** The live siblings after the write, with `returnSiblings`. */
  readonly siblings?: readonly Sibling[];
}

/** The new value of a key from its current siblings (none for a missing key). */
export type Updater = (siblings: readonly Sibling[], current: KVObject) => Bytes | Promise<Bytes>;

type KV = ConnectClient<typeof KVService>;

interface Target {
  base: string;
  kv: KV;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const MAX_TRANSPORTS = 256;

/**
 * A client of a concord cluster. Create one with `createClient` and share
 * it: it is safe for concurrent calls.
 */
export class Client {
  readonly #namespace: string;
  readonly #timeoutMs: number;
  readonly #merge: Merge | undefined;
  readonly #headers: Record<string, string>;
  readonly #endpoints: Target[];
  readonly #router: Router | undefined;
  readonly #newTransport: ((base: string) => Transport) | undefined;
  readonly #nodes = new Map<string, KV>();
  #preferred = 0;

  /** @internal Use createClient. */
  constructor(opts: ClientOptions, factory: TransportFactory) {
    this.#namespace = opts.namespace ?? "default";
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#merge = opts.merge;
    // The credential goes with each call, so that it reaches a ready
    // transport too.
    this.#headers = opts.token ? { Authorization: `Bearer ${opts.token}` } : {};
    const endpoints = typeof opts.endpoints === "string" ? [opts.endpoints] : [...(opts.endpoints ?? [])];
    if (opts.transport !== undefined) {
      if (endpoints.length > 0) throw new TypeError("concord: give endpoints or transport, not both");
      if (opts.routing) throw new TypeError("concord: routing needs endpoints (it dials the nodes of the topology)");
      if (opts.interceptors || opts.json !== undefined || opts.httpVersion !== undefined) {
        throw new TypeError("concord: with a transport, set interceptors, the format and the HTTP version on the transport");
      }
      this.#endpoints = [{ base: "", kv: createConnectClient(KVService, opts.transport) }];
      return;
    }
    if (endpoints.length === 0) throw new TypeError("concord: no endpoints");
    const o = { interceptors: opts.interceptors ?? [], useBinaryFormat: opts.json !== true, httpVersion: opts.httpVersion ?? "1.1" } as const;
    this.#newTransport = (base) => factory(base, o);
    this.#endpoints = endpoints.map((e) => {
      const base = e.replace(/\/+$/, "");
      const url = new URL(base); // throws on a malformed endpoint
      if (url.protocol !== "http:" && url.protocol !== "https:") throw new TypeError(`concord: endpoint ${e}: use http:// or https://`);
      return { base, kv: this.#kvAt(base) };
    });
    if (opts.routing) {
      const scheme = new URL(this.#endpoints[0]!.base).protocol;
      const ro = typeof opts.routing === "object" ? opts.routing : {};
      this.#router = new Router((ns) => this.#fetchTopology(ns), scheme, ro);
    }
  }

  /** The namespace of calls that name none. */
  get namespace(): string {
    return this.#namespace;
  }

  #kvAt(base: string): KV {
    let kv = this.#nodes.get(base);
    if (kv === undefined) {
      if (this.#nodes.size >= MAX_TRANSPORTS) this.#nodes.clear(); // nodes come and go; endpoints keep their own
      kv = createConnectClient(KVService, this.#newTransport!(base));
      this.#nodes.set(base, kv);
    }
    return kv;
  }

  /** The endpoints, starting with the one that answered last. */
  #endpointOrder(): Target[] {
    const n = this.#endpoints.length;
    return Array.from({ length: n }, (_, i) => this.#endpoints[(this.#preferred + i) % n]!);
  }

  #endpointFailed(t: Target): void {
    const i = this.#endpoints.indexOf(t);
    if (i === this.#preferred) this.#preferred = (i + 1) % this.#endpoints.length;
  }

  #call(opts: CallOptions) {
    const timeoutMs = opts.timeoutMs ?? this.#timeoutMs;
    return { signal: opts.signal, timeoutMs: timeoutMs > 0 ? timeoutMs : undefined, headers: this.#headers };
  }

  /**
   * Runs a unary call: at the routed node first (when routing knows one),
   * then at each endpoint in turn while the failure lets the call go on
   * (mayTryNext: a read that got no answer; a write that provably did not
   * land). At most 1 + endpoints attempts.
   */
  async #unary<T>(site: CallSite, route: "read" | "write" | "none", signal: AbortSignal | undefined, fn: (kv: KV) => Promise<T>): Promise<T> {
    const targets: Target[] = [];
    let routed: string | undefined;
    if (this.#router !== undefined && route !== "none") {
      routed = await this.#router.target(site.namespace, site.key, route === "read");
      if (routed !== undefined) targets.push({ base: routed, kv: this.#kvAt(routed) });
    }
    targets.push(...this.#endpointOrder().filter((t) => t.base !== routed));
    let last: unknown;
    for (const t of targets) {
      try {
        return await fn(t.kv);
      } catch (err) {
        if (!mayTryNext(err, route === "write" ? "write" : "read") || signal?.aborted) throw wrap(err, site);
        last = err;
        if (t.base === routed) this.#router!.nodeFailed(site.namespace, t.base);
        else this.#endpointFailed(t);
      }
    }
    throw wrap(last, site);
  }

  async #fetchTopology(namespace: string): Promise<Topology> {
    const site = { namespace, key: new Uint8Array(0) };
    const res = await this.#unary(site, "none", undefined, (kv) => kv.getTopology({ namespace }, this.#call({})));
    return topologyOf(res);
  }

  /**
   * Where the namespace's keys live: the cached topology with routing on,
   * else a fresh GetTopology.
   */
  async topology(namespace: string = this.#namespace): Promise<Topology> {
    if (this.#router !== undefined) {
      const t = await this.#router.topology(namespace);
      if (t !== undefined) return t;
    }
    return this.#fetchTopology(namespace);
  }

  /**
   * Reads a key. A missing key is not an error: the object has found false
   * (and the context of its history, to write after it).
   */
  async get(key: Bytes, opts: GetOptions = {}): Promise<KVObject> {
    const site = this.#site(key, opts.namespace);
    const res = await this.#unary(site, "read", opts.signal, (kv) =>
      kv.get({ namespace: site.namespace, key: site.key, r: opts.r ?? 0 }, this.#call(opts)),
    );
    return new KVObject({
      namespace: site.namespace,
      key: site.key,
      siblings: siblingsOf(res.siblings),
      context: res.context,
      resolvedBy: res.resolvedBy,
      replies: res.replies,
      coordinator: res.coordinator,
      merge: this.#merge,
    });
  }

  /**
   * Writes a value. With `context` (a read's object or context) it replaces
   * exactly the versions that read saw; without, it adds a sibling.
   */
  async put(key: Bytes, value: Bytes, opts: PutOptions = {}): Promise<Written> {
    const site = this.#site(key, opts.namespace);
    const res = await this.#unary(site, "write", opts.signal, (kv) =>
      kv.put(
        {
          namespace: site.namespace,
          key: site.key,
          value: toBytes(value),
          context: contextBytes(opts.context),
          w: opts.w ?? 0,
          dw: opts.dw ?? 0,
          ifAbsent: opts.ifAbsent ?? false,
          ifContextCurrent: opts.ifContextCurrent ?? false,
          overwrite: opts.overwrite ?? false,
          returnSiblings: opts.returnSiblings ?? false,
        },
        this.#call(opts),
      ),
    );
    this.#router?.wrote(site.namespace, site.key, res.coordinator);
    return written(res.context, res.coordinator, opts.returnSiblings ? siblingsOf(res.siblings) : undefined);
  }

  /**
   * Deletes a key: a causal tombstone replacing what `context` saw. Without
   * a context it needs `force`.
   */
  async delete(key: Bytes, opts: DeleteOptions = {}): Promise<Written> {
    const site = this.#site(key, opts.namespace);
    const res = await this.#unary(site, "write", opts.signal, (kv) =>
      kv.delete(
        { namespace: site.namespace, key: site.key, context: contextBytes(opts.context), w: opts.w ?? 0, force: opts.force ?? false },
        this.#call(opts),
      ),
    );
    this.#router?.wrote(site.namespace, site.key, res.coordinator);
    return written(res.context, res.coordinator, undefined);
  }

  /**
   * Read-modify-write: reads the key, calls fn with its siblings (none for
   * a missing key) and writes the result with the read's context and
   * `ifContextCurrent`. When the key changed meanwhile, fn runs again on the
   * current object the conflict carries, after a short jittered pause, up
   * to `maxAttempts` times. fn may run more than once: keep it free of side
   * effects. The check is the coordinator's: writers that reach the key
   * through different coordinators may still both succeed, and their
   * writes are then siblings that fn sees next time.
   */
  async update(key: Bytes, fn: Updater, opts: UpdateOptions = {}): Promise<Written> {
    const maxAttempts = Math.max(1, opts.maxAttempts ?? 20);
    const { r, ...rest } = opts;
    let current = await this.get(key, { ...rest, r });
    for (let attempt = 1; ; attempt++) {
      const value = await fn(current.siblings, current);
      try {
        return await this.put(key, value, { ...rest, context: current, ifContextCurrent: true });
      } catch (err) {
        if (!(err instanceof ConflictError) || attempt >= maxAttempts) throw err;
        current = err.current;
        await pause(Math.random() * Math.min(100, 2 ** attempt), opts.signal);
      }
    }
  }

  /**
   * The live keys of the namespace with the given prefix, in partition
   * order, fetched a page at a time. Break out of the loop to stop early.
   * A listing reads every key of the namespace: it is for tooling, not for
   * a request path. When the node streaming it stops answering, the listing
   * resumes after the last page at the next endpoint.
   */
  async *listKeys(prefix: Bytes = new Uint8Array(0), opts: ListOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
    const site = this.#site(new Uint8Array(0), opts.namespace);
    const pfx = toBytes(prefix);
    const limit = opts.limit ?? 0;
    let token: Uint8Array = new Uint8Array(0);
    let listed = 0;
    let last: unknown;
    const started = Date.now();
    for (const t of this.#endpointOrder()) {
      // The deadline is kept here rather than given to Connect, whose timer
      // outlives a stream the caller stops reading.
      const abort = new AbortController();
      const stop = () => abort.abort(opts.signal?.reason);
      if (opts.signal?.aborted) stop();
      opts.signal?.addEventListener("abort", stop);
      const expired = new ConcordError("deadline_exceeded", `the listing took over ${opts.timeoutMs} ms`);
      const timer = opts.timeoutMs ? setTimeout(() => abort.abort(expired), opts.timeoutMs - (Date.now() - started)) : undefined;
      try {
        const stream = t.kv.listKeys(
          { namespace: site.namespace, prefix: pfx, pageSize: opts.pageSize ?? 0, pageToken: token, limit: limit > 0 ? limit - listed : 0 },
          { signal: abort.signal, headers: this.#headers },
        );
        for await (const page of stream) {
          for (const k of page.keys) {
            listed++;
            yield k;
          }
          token = page.nextPageToken;
        }
        return;
      } catch (err) {
        if (abort.signal.reason === expired) throw expired;
        // Resume after the last page, unless keys came without a token to
        // resume after (the final page): starting over would list them twice.
        if (!mayTryNext(err, "read") || opts.signal?.aborted || (listed > 0 && token.length === 0)) throw wrap(err, site);
        if (limit > 0 && listed >= limit) return;
        last = err;
        this.#endpointFailed(t);
      } finally {
        clearTimeout(timer);
        opts.signal?.removeEventListener("abort", stop);
        abort.abort();
      }
    }
    throw wrap(last, site);
  }

  #site(key: Bytes, namespace: string | undefined): CallSite {
    return { namespace: namespace ?? this.#namespace, key: toBytes(key), merge: this.#merge };
  }
}

function written(context: Uint8Array, coordinator: string, siblings: Sibling[] | undefined): Written {
  const w: { context: Context; coordinator: string; siblings?: readonly Sibling[] } = { context: Context.fromBytes(context), coordinator };
  if (siblings !== undefined) w.siblings = siblings;
  return w;
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new ConcordError("canceled", "update canceled", { cause: signal.reason }));
    const done = () => {
      signal?.removeEventListener("abort", abort);
      resolve();
    };
    const timer = setTimeout(done, ms);
    const abort = () => {
      clearTimeout(timer);
      reject(new ConcordError("canceled", "update canceled", { cause: signal?.reason }));
    };
    signal?.addEventListener("abort", abort, { once: true });
  });
}
