/**
 * concord's TypeScript client for Node (connect-node transport: HTTP/1.1 by
 * default, or HTTP/2 incl. cleartext h2c with `httpVersion: "2"`). Browsers
 * get the same API with the fetch transport (package condition "browser",
 * or "@concord-kv/concord/browser").
 *
 * @example
 * const kv = createClient({ endpoints: "http://127.0.0.1:7700", token: process.env.CONCORD_TOKEN });
 * await kv.put("hello", "world");
 * const obj = await kv.get("hello");
 * console.log(obj.value?.text());
 *
 * @module
 */

import { createConnectTransport } from "@connectrpc/connect-node";

import { Client, type ClientOptions } from "./client.js";

export * from "./api.js";

/** A client of a concord cluster (Node). */
export function createClient(opts: ClientOptions): Client {
  return new Client(opts, (baseUrl, o) => createConnectTransport({ baseUrl, ...o }));
}
