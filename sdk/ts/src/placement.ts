// Key placement, bit-exact with the server (engine/keys): a key's hash is
// XXH3-64 (seed 0, default secret) of storageName ‖ 0x00 ‖ key, and its
// partition among Q (a power of two) is the top log2(Q) bits of that hash.
//
// XXH3-64 is implemented here from the xxHash specification with BigInt
// arithmetic, so it runs unchanged in browsers and Node with no native or
// wasm dependency. Vectors: engine/keys/testdata/placement.json.

const MASK64 = 0xffff_ffff_ffff_ffffn;
const MASK32 = 0xffff_ffffn;

const PRIME32_1 = 0x9e3779b1n;
const PRIME32_2 = 0x85ebca77n;
const PRIME32_3 = 0xc2b2ae3dn;
const PRIME64_1 = 0x9e3779b185ebca87n;
const PRIME64_2 = 0xc2b2ae3d27d4eb4fn;
const PRIME64_3 = 0x165667b19e3779f9n;
const PRIME64_4 = 0x85ebca77c2b2ae63n;
const PRIME64_5 = 0x27d4eb2f165667c5n;
const PRIME_MX1 = 0x165667919e3779f9n;
const PRIME_MX2 = 0x9fb21c651e98df25n;

/** The largest partition count the server accepts (ring.MaxQ). */
export const MAX_PARTITIONS = 1 << 16;

// The default 192-byte XXH3 secret.
const SECRET = new Uint8Array([
  0xb8, 0xfe, 0x6c, 0x39, 0x23, 0xa4, 0x4b, 0xbe, 0x7c, 0x01, 0x81, 0x2c, 0xf7, 0x21, 0xad, 0x1c,
  0xde, 0xd4, 0x6d, 0xe9, 0x83, 0x90, 0x97, 0xdb, 0x72, 0x40, 0xa4, 0xa4, 0xb7, 0xb3, 0x67, 0x1f,
  0xcb, 0x79, 0xe6, 0x4e, 0xcc, 0xc0, 0xe5, 0x78, 0x82, 0x5a, 0xd0, 0x7d, 0xcc, 0xff, 0x72, 0x21,
  0xb8, 0x08, 0x46, 0x74, 0xf7, 0x43, 0x24, 0x8e, 0xe0, 0x35, 0x90, 0xe6, 0x81, 0x3a, 0x26, 0x4c,
  0x3c, 0x28, 0x52, 0xbb, 0x91, 0xc3, 0x00, 0xcb, 0x88, 0xd0, 0x65, 0x8b, 0x1b, 0x53, 0x2e, 0xa3,
  0x71, 0x64, 0x48, 0x97, 0xa2, 0x0d, 0xf9, 0x4e, 0x38, 0x19, 0xef, 0x46, 0xa9, 0xde, 0xac, 0xd8,
  0xa8, 0xfa, 0x76, 0x3f, 0xe3, 0x9c, 0x34, 0x3f, 0xf9, 0xdc, 0xbb, 0xc7, 0xc7, 0x0b, 0x4f, 0x1d,
  0x8a, 0x51, 0xe0, 0x4b, 0xcd, 0xb4, 0x59, 0x31, 0xc8, 0x9f, 0x7e, 0xc9, 0xd9, 0x78, 0x73, 0x64,
  0xea, 0xc5, 0xac, 0x83, 0x34, 0xd3, 0xeb, 0xc3, 0xc5, 0x81, 0xa0, 0xff, 0xfa, 0x13, 0x63, 0xeb,
  0x17, 0x0d, 0xdd, 0x51, 0xb7, 0xf0, 0xda, 0x49, 0xd3, 0x16, 0x55, 0x26, 0x29, 0xd4, 0x68, 0x9e,
  0x2b, 0x16, 0xbe, 0x58, 0x7d, 0x47, 0xa1, 0xfc, 0x8f, 0xf8, 0xb8, 0xd1, 0x7a, 0xd0, 0x31, 0xce,
  0x45, 0xcb, 0x3a, 0x8f, 0x95, 0x16, 0x04, 0x28, 0xaf, 0xd7, 0xfb, 0xca, 0xbb, 0x4b, 0x40, 0x7e,
]);
const SECRET_VIEW = new DataView(SECRET.buffer);
const SECRET_LEN = SECRET.length;
const STRIPE_LEN = 64;
const STRIPES_PER_BLOCK = (SECRET_LEN - 64) / 8; // 16
const BLOCK_LEN = STRIPE_LEN * STRIPES_PER_BLOCK; // 1024

const secret64 = (off: number): bigint => SECRET_VIEW.getBigUint64(off, true);
const secret32 = (off: number): bigint => BigInt(SECRET_VIEW.getUint32(off, true));

const rotl64 = (x: bigint, r: bigint): bigint => ((x << r) | (x >> (64n - r))) & MASK64;

function bswap64(x: bigint): bigint {
  let r = 0n;
  for (let i = 0; i < 8; i++) {
    r = (r << 8n) | (x & 0xffn);
    x >>= 8n;
  }
  return r;
}

// 64x64 -> 128-bit multiply, low half xor high half.
function mulFold64(a: bigint, b: bigint): bigint {
  const p = a * b;
  return (p & MASK64) ^ (p >> 64n);
}

function avalanche(x: bigint): bigint {
  x ^= x >> 37n;
  x = (x * PRIME_MX1) & MASK64;
  return x ^ (x >> 32n);
}

function avalancheXXH64(x: bigint): bigint {
  x ^= x >> 33n;
  x = (x * PRIME64_2) & MASK64;
  x ^= x >> 29n;
  x = (x * PRIME64_3) & MASK64;
  return x ^ (x >> 32n);
}

function hash0(): bigint {
  return avalancheXXH64(secret64(56) ^ secret64(64));
}

function hash1to3(input: Uint8Array): bigint {
  const n = input.length;
  const combined =
    BigInt(input[n - 1]!) |
    (BigInt(n) << 8n) |
    (BigInt(input[0]!) << 16n) |
    (BigInt(input[n >> 1]!) << 24n);
  return avalancheXXH64((secret32(0) ^ secret32(4)) ^ combined);
}

function hash4to8(view: DataView, n: number): bigint {
  const first = BigInt(view.getUint32(0, true));
  const last = BigInt(view.getUint32(n - 4, true));
  const combined = last | (first << 32n);
  let v = (secret64(8) ^ secret64(16)) ^ combined;
  v ^= rotl64(v, 49n) ^ rotl64(v, 24n);
  v = (v * PRIME_MX2) & MASK64;
  v ^= ((v >> 35n) + BigInt(n)) & MASK64;
  v = (v * PRIME_MX2) & MASK64;
  return v ^ (v >> 28n);
}

function hash9to16(view: DataView, n: number): bigint {
  const first = view.getBigUint64(0, true);
  const last = view.getBigUint64(n - 8, true);
  const low = (secret64(24) ^ secret64(32)) ^ first;
  const high = (secret64(40) ^ secret64(48)) ^ last;
  const v = (BigInt(n) + bswap64(low) + high + mulFold64(low, high)) & MASK64;
  return avalanche(v);
}

// mixStep of 16 input bytes at off with 16 secret bytes at secretOff (seed 0).
function mix16(view: DataView, off: number, secretOff: number): bigint {
  const lo = view.getBigUint64(off, true) ^ secret64(secretOff);
  const hi = view.getBigUint64(off + 8, true) ^ secret64(secretOff + 8);
  return mulFold64(lo, hi);
}

function hash17to128(view: DataView, n: number): bigint {
  let acc = (BigInt(n) * PRIME64_1) & MASK64;
  const rounds = ((n - 1) >> 5) + 1;
  for (let i = rounds - 1; i >= 0; i--) {
    acc += mix16(view, i * 16, i * 32);
    acc += mix16(view, n - i * 16 - 16, i * 32 + 16);
  }
  return avalanche(acc & MASK64);
}

function hash129to240(view: DataView, n: number): bigint {
  let acc = (BigInt(n) * PRIME64_1) & MASK64;
  const chunks = n >> 4;
  for (let i = 0; i < 8; i++) {
    acc += mix16(view, i * 16, i * 16);
  }
  acc = avalanche(acc & MASK64);
  for (let i = 8; i < chunks; i++) {
    acc += mix16(view, i * 16, (i - 8) * 16 + 3);
  }
  acc += mix16(view, n - 16, 119);
  return avalanche(acc & MASK64);
}

function accumulate(acc: bigint[], view: DataView, off: number, secretOff: number): void {
  for (let i = 0; i < 8; i++) {
    const lane = view.getBigUint64(off + i * 8, true);
    const v = lane ^ secret64(secretOff + i * 8);
    acc[i ^ 1] = (acc[i ^ 1]! + lane) & MASK64;
    acc[i] = (acc[i]! + (v & MASK32) * (v >> 32n)) & MASK64;
  }
}

function scramble(acc: bigint[]): void {
  for (let i = 0; i < 8; i++) {
    let a = acc[i]!;
    a ^= a >> 47n;
    a ^= secret64(SECRET_LEN - 64 + i * 8);
    acc[i] = (a * PRIME32_1) & MASK64;
  }
}

function hashLarge(view: DataView, n: number): bigint {
  const acc = [PRIME32_3, PRIME64_1, PRIME64_2, PRIME64_3, PRIME64_4, PRIME32_2, PRIME64_5, PRIME32_1];
  // Full blocks, leaving the last (possibly full) block for below.
  const blocks = Math.floor((n - 1) / BLOCK_LEN);
  for (let b = 0; b < blocks; b++) {
    for (let s = 0; s < STRIPES_PER_BLOCK; s++) {
      accumulate(acc, view, b * BLOCK_LEN + s * STRIPE_LEN, s * 8);
    }
    scramble(acc);
  }
  // The last block's full stripes except the last, then the input's last
  // 64 bytes (which may overlap the previous stripe).
  const start = blocks * BLOCK_LEN;
  const stripes = Math.floor((n - start - 1) / STRIPE_LEN);
  for (let s = 0; s < stripes; s++) {
    accumulate(acc, view, start + s * STRIPE_LEN, s * 8);
  }
  accumulate(acc, view, n - STRIPE_LEN, SECRET_LEN - 71);
  // Final merge with secret[11:75].
  let result = (BigInt(n) * PRIME64_1) & MASK64;
  for (let i = 0; i < 4; i++) {
    result += mulFold64(acc[2 * i]! ^ secret64(11 + 16 * i), acc[2 * i + 1]! ^ secret64(11 + 16 * i + 8));
  }
  return avalanche(result & MASK64);
}

/** XXH3-64 of input with seed 0 and the default secret, as an unsigned 64-bit bigint. */
export function xxh3Hash64(input: Uint8Array): bigint {
  const n = input.length;
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  if (n === 0) return hash0();
  if (n <= 3) return hash1to3(input);
  if (n <= 8) return hash4to8(view, n);
  if (n <= 16) return hash9to16(view, n);
  if (n <= 128) return hash17to128(view, n);
  if (n <= 240) return hash129to240(view, n);
  return hashLarge(view, n);
}

const utf8 = new TextEncoder();

/**
 * The 64-bit placement hash of key in a storage namespace: XXH3-64 of
 * UTF-8(storageName) ‖ 0x00 ‖ key. Equal to the server's keys.Hash.
 */
export function keyHash(storageName: string, key: Uint8Array): bigint {
  const ns = utf8.encode(storageName);
  const input = new Uint8Array(ns.length + 1 + key.length);
  input.set(ns, 0);
  input[ns.length] = 0;
  input.set(key, ns.length + 1);
  return xxh3Hash64(input);
}

/**
 * The partition, in [0, partitions), that key maps to when the ring has
 * `partitions` partitions (a power of two in [1, 65536]): the top
 * log2(partitions) bits of keyHash. Equal to the server's keys.Partition.
 */
export function partitionOf(storageName: string, key: Uint8Array, partitions: number): number {
  if (
    !Number.isInteger(partitions) ||
    partitions < 1 ||
    partitions > MAX_PARTITIONS ||
    (partitions & (partitions - 1)) !== 0
  ) {
    throw new RangeError(`partitions must be a power of two in [1, ${MAX_PARTITIONS}], got ${partitions}`);
  }
  const bits = 31 - Math.clz32(partitions);
  if (bits === 0) return 0;
  return Number(keyHash(storageName, key) >> BigInt(64 - bits));
}
