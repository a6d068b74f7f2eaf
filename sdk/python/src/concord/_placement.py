"""Key placement, bit-exact with the server (engine/keys).

A key's hash is XXH3-64 (seed 0, default secret) of
UTF-8(storage_name) || 0x00 || key, and its partition among Q partitions
(a power of two) is the top log2(Q) bits of that hash.
Vectors: engine/keys/testdata/placement.json.
"""

from __future__ import annotations

import xxhash

#: The largest partition count the server accepts (ring.MaxQ).
MAX_PARTITIONS = 1 << 16


def key_hash(storage_name: str, key: bytes) -> int:
    """The 64-bit placement hash of key in a storage namespace (keys.Hash)."""
    return xxhash.xxh3_64_intdigest(storage_name.encode("utf-8") + b"\x00" + bytes(key))


def partition_of(storage_name: str, key: bytes, partitions: int) -> int:
    """The partition in [0, partitions) that key maps to (keys.Partition).

    partitions must be a power of two in [1, 65536].
    """
    if (
        isinstance(partitions, bool)
        or not isinstance(partitions, int)
        or not 1 <= partitions <= MAX_PARTITIONS
        or partitions & (partitions - 1)
    ):
        raise ValueError(
            f"partitions must be a power of two in [1, {MAX_PARTITIONS}], got {partitions!r}"
        )
    bits = partitions.bit_length() - 1
    if bits == 0:
        return 0
    return key_hash(storage_name, key) >> (64 - bits)
