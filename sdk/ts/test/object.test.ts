// Contexts, siblings and the sibling policy, without a cluster.

import assert from "node:assert/strict";
import { test } from "node:test";

import { fromBase64Url, toBase64Url } from "../src/bytes.js";
import { Context, KVObject, Sibling, SiblingsError } from "../src/index.js";

const enc = (s: string) => new TextEncoder().encode(s);

function object(values: string[], merge?: (s: readonly Sibling[]) => string): KVObject {
  return new KVObject({
    namespace: "default",
    key: enc("k"),
    siblings: values.map((v, i) => new Sibling(enc(v), new Date(1000 * (i + 1)))),
    context: new Uint8Array([1, 2, 3]),
    merge,
  });
}

test("base64url round-trips every length and byte", () => {
  for (let n = 0; n < 70; n++) {
    const b = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n * 11) & 0xff);
    const s = toBase64Url(b);
    assert.match(s, /^[A-Za-z0-9_-]*$/);
    assert.deepEqual(fromBase64Url(s), b);
  }
  assert.deepEqual(fromBase64Url("-_8"), new Uint8Array([0xfb, 0xff]));
  assert.deepEqual(fromBase64Url("+/8="), new Uint8Array([0xfb, 0xff]), "standard base64 with padding");
  assert.throws(() => fromBase64Url("a"), TypeError);
  assert.throws(() => fromBase64Url("ab$d"), TypeError);
});

test("a context's string form parses back to the same context", () => {
  const c = Context.fromBytes(new Uint8Array([0, 255, 250, 1, 2]));
  const s = c.toString();
  assert.equal(s, "AP_6AQI");
  assert.ok(Context.parse(s).equals(c));
  assert.equal(JSON.stringify({ c }), `{"c":"AP_6AQI"}`);
  assert.ok(!c.empty);
  // The bytes getter is a copy: changing it changes nothing.
  c.bytes[0] = 9;
  assert.equal(c.toString(), "AP_6AQI");
});

test("value is the one sibling, undefined for none, and throws with siblings", () => {
  assert.equal(object([]).value, undefined);
  assert.equal(object([]).found, false);
  assert.equal(object(["a"]).value?.text(), "a");
  const two = object(["a", "b"]);
  assert.ok(two.hasSiblings);
  assert.throws(
    () => two.value,
    (e: unknown) => {
      assert.ok(e instanceof SiblingsError);
      assert.equal(e.code, "siblings");
      assert.deepEqual(e.siblings.map((s) => s.text()), ["a", "b"]);
      return true;
    },
  );
});

test("resolve merges siblings; a client merge makes value use it", () => {
  const join = (s: readonly Sibling[]) => s.map((x) => x.text()).sort().join("+");
  const two = object(["b", "a"]);
  const merged = two.resolve(join);
  assert.equal(merged?.text(), "a+b");
  assert.equal(merged?.writtenAt.getTime(), 2000, "the latest writtenAt");
  assert.equal(object(["x"]).resolve(() => assert.fail("no merge for one sibling"))?.text(), "x");
  assert.equal(object(["b", "a"], join).value?.text(), "a+b");
});

test("sibling helpers: bytes, text, json", () => {
  const s = new Sibling(enc(`{"n":1,"s":"é"}`), new Date(5));
  assert.deepEqual(s.json(), { n: 1, s: "é" });
  assert.equal(s.bytes.length, 16); // é is two bytes
  assert.ok(s.writtenAt instanceof Date);
});
