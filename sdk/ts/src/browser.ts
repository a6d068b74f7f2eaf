/**
 * concord's TypeScript client for browsers (connect-web's fetch transport).
 * The API is the one of the Node entry point; `httpVersion` is ignored (the
 * browser picks it). The cluster must allow the page's origin (CORS).
 *
 * @module
 */

import { createConnectTransport } from "@connectrpc/connect-web";

import { Client, type ClientOptions } from "./client.js";

export * from "./api.js";

/** A client of a concord cluster (browser). */
export function createClient(opts: ClientOptions): Client {
  return new Client(opts, (baseUrl, o) =>
    createConnectTransport({ baseUrl, interceptors: o.interceptors, useBinaryFormat: o.useBinaryFormat }),
  );
}
