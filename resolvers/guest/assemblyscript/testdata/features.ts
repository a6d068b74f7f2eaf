// Exercises the guest library; the key says what to do (see
// guesttest.CheckFeatures). Built by as_test.go.
import { Input, Level, Resolution, config, log, register, text } from "../assembly/concord";
export { concord_abi_v1, resolve } from "../assembly/concord";

function features(input: Input): Resolution {
  const key = text(input.key);
  if (key == "config") return Resolution.ok(config());
  if (key == "input") {
    let out = input.namespace + "/" + key + "/" + input.siblings.length.toString();
    for (let i = 0; i < input.siblings.length; i++) {
      const s = input.siblings[i];
      out += "/" + (s.tombstone ? "true" : "false") + ":" + s.timestamp.toString() + ":" + text(s.value);
    }
    return Resolution.text(out);
  }
  if (key == "log") {
    log(Level.WARN, "hello " + (42).toString());
    return Resolution.ok(new Uint8Array(0));
  }
  if (key == "defer") return Resolution.defer();
  if (key == "fail") return Resolution.error("cannot merge");
  if (key == "panic") throw new Error("boom");
  if (key == "big") return Resolution.ok(new Uint8Array(2 << 20));
  return Resolution.defer();
}

register(features);
