// An example resolver: values are sets of lines, and the merge is their
// union, sorted by bytes, without duplicates or empty lines. A key whose
// siblings are all tombstones stays deleted.
import { Input, Resolution, register, split, join, compareBytes } from "../assembly/concord";
export { concord_abi_v1, resolve } from "../assembly/concord";

function setUnion(input: Input): Resolution {
  const live = input.live();
  if (live.length == 0) return Resolution.delete();
  let lines = new Array<Uint8Array>(0);
  for (let i = 0; i < live.length; i++) lines = lines.concat(split(live[i], 0x0a));
  lines.sort(compareBytes);
  const set = new Array<Uint8Array>(0);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.length > 0 && (set.length == 0 || compareBytes(set[set.length - 1], line) != 0)) set.push(line);
  }
  return Resolution.ok(join(set, 0x0a));
}

register(setUnion);
