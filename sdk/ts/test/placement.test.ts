import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { keyHash, MAX_PARTITIONS, partitionOf, xxh3Hash64 } from "../src/placement.js";

// The server's vectors (written by engine/keys/vectors_test.go).
interface Vectors {
  partitions: number[];
  xxh3: { input: string; hash: string }[];
  vectors: {
    case: string;
    namespace: string;
    key: string;
    hash: string;
    partition: Record<string, number>;
  }[];
}

const file: Vectors = JSON.parse(
  readFileSync(new URL("../../../engine/keys/testdata/placement.json", import.meta.url), "utf8"),
);

function fromHex(s: string): Uint8Array {
  assert.equal(s.length % 2, 0);
  const b = new Uint8Array(s.length / 2);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return b;
}

test("the vector file is there and covers the length classes", () => {
  assert.ok(file.vectors.length >= 100, `only ${file.vectors.length} vectors`);
  assert.ok(file.xxh3.some((v) => v.input === ""), "no empty raw input");
  const lengths = new Set(file.vectors.map((v) => new TextEncoder().encode(v.namespace).length + 1 + v.key.length / 2));
  for (const l of [1, 3, 4, 8, 9, 16, 17, 128, 129, 240, 241, 1000, 10000]) {
    assert.ok(lengths.has(l), `no vector of total length ${l}`);
  }
});

test("xxh3Hash64 matches raw vectors", () => {
  for (const v of file.xxh3) {
    assert.equal(xxh3Hash64(fromHex(v.input)).toString(), v.hash, `len ${v.input.length / 2}`);
  }
});

test("keyHash and partitionOf match the server", () => {
  assert.deepEqual([...file.partitions].sort((a, b) => a - b), [1, 2, 8, 16, 64, 256, 1024, 4096, 65536]);
  for (const v of file.vectors) {
    const key = fromHex(v.key);
    const what = `${v.case} (${JSON.stringify(v.namespace)}, ${v.key.slice(0, 40)})`;
    assert.equal(keyHash(v.namespace, key).toString(), v.hash, what);
    for (const q of file.partitions) {
      const want = v.partition[String(q)];
      assert.equal(typeof want, "number", `${what}: no partition for q=${q}`);
      assert.equal(partitionOf(v.namespace, key, q), want, `${what} q=${q}`);
    }
  }
});

test("keyHash works on a subarray key", () => {
  const v = file.vectors.find((x) => x.key.length >= 20)!;
  const key = fromHex(v.key);
  const padded = new Uint8Array(key.length + 5);
  padded.set(key, 3);
  assert.equal(keyHash(v.namespace, padded.subarray(3, 3 + key.length)).toString(), v.hash);
});

test("partitionOf rejects partition counts the server doesn't accept", () => {
  const key = new Uint8Array([1, 2, 3]);
  for (const q of [0, -1, 3, 6, 1000, 1.5, NaN, Infinity, MAX_PARTITIONS * 2]) {
    assert.throws(() => partitionOf("default", key, q), RangeError, `q=${q}`);
  }
  assert.equal(partitionOf("default", key, 1), 0);
});
