// The built package as its users get it (npm test builds dist first): the
// exports resolve with their types, and the browser entry bundles for a
// browser without Node's modules.

import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { test } from "node:test";

import { build } from "esbuild";

const sdkDir = fileURLToPath(new URL("..", import.meta.url));
const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
  name: string;
  exports: Record<string, Record<string, string> | string>;
};

test("every export and its types exist in dist", () => {
  for (const [path, target] of Object.entries(pkg.exports)) {
    const files = typeof target === "string" ? [target] : Object.values(target);
    for (const f of files) assert.ok(existsSync(new URL(`../${f}`, import.meta.url)), `${path}: ${f} is missing (npm run build)`);
  }
});

test("the package name resolves to the Node entry with the whole API", async () => {
  const m = (await import(pkg.name)) as Record<string, unknown>;
  for (const name of [
    "createClient",
    "Client",
    "Context",
    "KVObject",
    "Sibling",
    "ConcordError",
    "QuorumError",
    "ConflictError",
    "AlreadyExistsError",
    "LimitError",
    "NotFoundError",
    "UnauthenticatedError",
    "PermissionDeniedError",
    "InvalidArgumentError",
    "SiblingsError",
    "partitionOf",
  ]) {
    assert.equal(typeof m[name], "function", name);
  }
  const browser = (await import(`${pkg.name}/browser`)) as Record<string, unknown>;
  assert.deepEqual(Object.keys(browser).sort(), Object.keys(m).sort(), "both entries export the same names");
});

test("a browser bundle of the package has no Node module in it", async () => {
  const res = await build({
    stdin: { contents: `export * from ${JSON.stringify(pkg.name)};`, resolveDir: sdkDir },
    bundle: true,
    write: false,
    platform: "browser",
    format: "esm",
    logLevel: "silent",
  });
  const code = res.outputFiles[0]!.text;
  assert.ok(code.includes("createConnectTransport"), "the bundle has a transport");
  for (const nodeOnly of ["node:http2", "connect-node", "Http2SessionManager"]) {
    assert.ok(!code.includes(nodeOnly), `the browser bundle contains ${nodeOnly}`);
  }
});
