// Partition-aware routing (the Dynamo paper's client-driven coordination):
// the client keeps each namespace's topology, computes a key's partition
// itself and sends the request to the first reachable node of the key's
// preference list, saving the forwarding hop.

import { toHex } from "./bytes.js";
import type { GetTopologyResponse } from "./gen/concord/kv/v1/kv_pb.js";
import { partitionOf } from "./placement.js";

/** A node that owns partitions in the ring. */
export interface TopologyNode {
  readonly id: string;
  /** The node's client API address (host:port) as it advertises it. */
  readonly apiAddr: string;
  readonly zone: string;
}

/** Where a namespace's keys live (GetTopology). */
export interface Topology {
  /** The ring's epoch; it grows with every committed membership change. */
  readonly epoch: number;
  /** What keys are hashed under (the namespace's storage name). */
  readonly placementName: string;
  /** The ring's partition count (a power of two). */
  readonly partitions: number;
  /** The namespace's replica count. */
  readonly n: number;
  readonly nodes: readonly TopologyNode[];
  /** Per partition, the replicas in preference order (indices into nodes). */
  readonly preferenceLists: readonly (readonly number[])[];
}

/** Tuning of `routing`; every field has a default. */
export interface RoutingOptions {
  /** Fetch a namespace's topology again after this many ms. Default 30000. */
  refreshMs?: number;
  /**
   * Reads of a key within this many ms after this client wrote it go to the
   * node that coordinated the write (read-your-writes). Default 2000; 0
   * turns it off.
   */
  readYourWritesMs?: number;
  /** A node that did not answer is skipped for this many ms. Default 5000. */
  downMs?: number;
}

export function topologyOf(res: GetTopologyResponse): Topology {
  return {
    epoch: Number(res.ringEpoch),
    placementName: res.placementName,
    partitions: res.partitions,
    n: res.n,
    nodes: res.nodes.map((n) => ({ id: n.id, apiAddr: n.apiAddr, zone: n.zone })),
    preferenceLists: res.preferenceLists.map((p) => [...p.nodes]),
  };
}

/**
 * The preference list of key: its partition's replicas in order, or an
 * empty list when the topology is not usable (no partitions, lists missing).
 */
export function preferenceList(t: Topology, key: Uint8Array): TopologyNode[] {
  if (t.partitions < 1 || t.preferenceLists.length !== t.partitions) return [];
  const list = t.preferenceLists[partitionOf(t.placementName, key, t.partitions)] ?? [];
  return list.map((i) => t.nodes[i]).filter((n): n is TopologyNode => n !== undefined);
}

/**
 * The base URL of a node's API under the scheme of the configured
 * endpoints, or undefined for an address a client cannot dial (empty or an
 * unspecified host such as 0.0.0.0 or [::]).
 */
export function baseUrlOf(scheme: string, apiAddr: string): string | undefined {
  const m = /^(\[[^\]]*\]|[^:]*):(\d+)$/.exec(apiAddr);
  if (m === null) return undefined;
  const host = m[1]!;
  if (host === "" || host === "0.0.0.0" || host === "[::]" || host === "[::0]") return undefined;
  return `${scheme}//${host}:${m[2]}`;
}

interface Entry {
  topology?: Topology;
  fetchedAt: number;
  /** Fetch again before the next use (a node failed). */
  stale: boolean;
  failedAt?: number;
  pending?: Promise<void>;
}

/** Most recent writes remembered for read-your-writes. */
const MAX_RECENT = 10_000;
/** A failed topology fetch is not tried again for this long. */
const FETCH_BACKOFF_MS = 1000;

/**
 * The routing state of one client: topologies per namespace, nodes that
 * did not answer, and the coordinators of recent writes. Safe for
 * concurrent calls (one fetch per namespace at a time).
 */
export class Router {
  readonly #fetch: (namespace: string) => Promise<Topology>;
  readonly #scheme: string;
  readonly #now: () => number;
  readonly #refreshMs: number;
  readonly #rywMs: number;
  readonly #downMs: number;
  readonly #entries = new Map<string, Entry>();
  readonly #down = new Map<string, number>(); // base URL -> when it failed
  readonly #recent = new Map<string, { node: string; at: number }>();

  constructor(
    fetch: (namespace: string) => Promise<Topology>,
    scheme: string,
    opts: RoutingOptions = {},
    now: () => number = Date.now,
  ) {
    this.#fetch = fetch;
    this.#scheme = scheme;
    this.#now = now;
    this.#refreshMs = opts.refreshMs ?? 30_000;
    this.#rywMs = opts.readYourWritesMs ?? 2_000;
    this.#downMs = opts.downMs ?? 5_000;
  }

  /**
   * The namespace's topology, fetched when there is none yet, it is older
   * than refreshMs, or a node failed since. Undefined when none could be
   * fetched (the caller uses its endpoints).
   */
  async topology(namespace: string): Promise<Topology | undefined> {
    let e = this.#entries.get(namespace);
    if (e === undefined) {
      e = { fetchedAt: 0, stale: true };
      this.#entries.set(namespace, e);
    }
    const now = this.#now();
    const due = e.stale || e.topology === undefined || now - e.fetchedAt >= this.#refreshMs;
    const backingOff = e.failedAt !== undefined && now - e.failedAt < FETCH_BACKOFF_MS;
    if (due && !backingOff && e.pending === undefined) {
      const entry = e;
      entry.pending = this.#refresh(namespace, entry).finally(() => {
        entry.pending = undefined;
      });
    }
    if (e.pending !== undefined) await e.pending;
    return e.topology;
  }

  async #refresh(namespace: string, e: Entry): Promise<void> {
    try {
      const t = await this.#fetch(namespace);
      // An older epoch comes from a node that has not heard of the latest
      // ring change yet: keep the newer topology.
      if (e.topology === undefined || t.epoch >= e.topology.epoch) e.topology = t;
      e.fetchedAt = this.#now();
      e.stale = false;
      e.failedAt = undefined;
    } catch {
      e.failedAt = this.#now();
    }
  }

  /**
   * The base URL a request for key should go to, or undefined to use the
   * configured endpoints. A read of a key this client wrote within
   * readYourWritesMs goes to that write's coordinator.
   */
  async target(namespace: string, key: Uint8Array, read: boolean): Promise<string | undefined> {
    const t = await this.topology(namespace);
    if (t === undefined) return undefined;
    const now = this.#now();
    if (read && this.#rywMs > 0) {
      const r = this.#recent.get(recentKey(namespace, key));
      if (r !== undefined && now - r.at < this.#rywMs) {
        const node = t.nodes.find((n) => n.id === r.node);
        const base = node && baseUrlOf(this.#scheme, node.apiAddr);
        if (base !== undefined && !this.#isDown(base, now)) return base;
      }
    }
    for (const node of preferenceList(t, key)) {
      const base = baseUrlOf(this.#scheme, node.apiAddr);
      if (base !== undefined && !this.#isDown(base, now)) return base;
    }
    return undefined;
  }

  #isDown(base: string, now: number): boolean {
    const at = this.#down.get(base);
    if (at === undefined) return false;
    if (now - at < this.#downMs) return true;
    this.#down.delete(base);
    return false;
  }

  /** The node at base did not answer: skip it for a while and fetch the topology again. */
  nodeFailed(namespace: string, base: string): void {
    this.#down.set(base, this.#now());
    const e = this.#entries.get(namespace);
    if (e !== undefined) e.stale = true;
  }

  /** Remembers the coordinator of a successful write of key, for read-your-writes. */
  wrote(namespace: string, key: Uint8Array, coordinator: string): void {
    if (this.#rywMs <= 0 || coordinator === "") return;
    const k = recentKey(namespace, key);
    this.#recent.delete(k); // re-insert: the map stays in write order
    this.#recent.set(k, { node: coordinator, at: this.#now() });
    if (this.#recent.size > MAX_RECENT) {
      const oldest = this.#recent.keys().next().value;
      if (oldest !== undefined) this.#recent.delete(oldest);
    }
  }
}

function recentKey(namespace: string, key: Uint8Array): string {
  return `${namespace}\u0000${toHex(key)}`;
}
