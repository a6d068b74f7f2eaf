// Byte helpers that run the same in Node and browsers (no Buffer).

/** A key or value: a string (sent as its UTF-8 bytes) or raw bytes. */
export type Bytes = string | Uint8Array;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false });

/** The bytes of b: the UTF-8 encoding of a string, or b itself. */
export function toBytes(b: Bytes): Uint8Array {
  if (typeof b === "string") return encoder.encode(b);
  if (b instanceof Uint8Array) return b;
  throw new TypeError(`concord: expected a string or Uint8Array, got ${typeof b}`);
}

/** The UTF-8 text of b (invalid sequences become U+FFFD). */
export function utf8(b: Uint8Array): string {
  return decoder.decode(b);
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function toHex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const DECODE = new Map<string, number>();
for (let i = 0; i < ALPHABET.length; i++) DECODE.set(ALPHABET[i]!, i);
// Standard base64 is accepted on input too.
DECODE.set("+", 62);
DECODE.set("/", 63);

/** base64url without padding (RFC 4648 §5). */
export function toBase64Url(b: Uint8Array): string {
  let out = "";
  let i = 0;
  for (; i + 3 <= b.length; i += 3) {
    const n = (b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!;
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]! + ALPHABET[n & 63]!;
  }
  const rest = b.length - i;
  if (rest === 1) {
    const n = b[i]! << 16;
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]!;
  } else if (rest === 2) {
    const n = (b[i]! << 16) | (b[i + 1]! << 8);
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]!;
  }
  return out;
}

/**
 * Decodes base64url or standard base64, with or without padding. Throws a
 * TypeError on anything else.
 */
export function fromBase64Url(s: string): Uint8Array {
  const trimmed = s.replace(/=+$/, "");
  if (trimmed.length % 4 === 1) throw new TypeError("concord: not base64: bad length");
  const out = new Uint8Array(Math.floor((trimmed.length * 3) / 4));
  let bits = 0;
  let acc = 0;
  let o = 0;
  for (const ch of trimmed) {
    const v = DECODE.get(ch);
    if (v === undefined) throw new TypeError(`concord: not base64: ${JSON.stringify(ch)}`);
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}
