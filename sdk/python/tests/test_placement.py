import json
from pathlib import Path

import pytest
import xxhash

from concord._placement import MAX_PARTITIONS, key_hash, partition_of

# The server's vectors (written by engine/keys/vectors_test.go).
VECTOR_FILE = Path(__file__).resolve().parents[3] / "engine" / "keys" / "testdata" / "placement.json"
FILE = json.loads(VECTOR_FILE.read_text(encoding="utf-8"))
VECTORS = FILE["vectors"]


def _id(v):
    return f"{v['case']}:{v['namespace']}:{v['key'][:16]}"


def test_vector_file_covers_length_classes():
    assert len(VECTORS) >= 100
    assert any(v["input"] == "" for v in FILE["xxh3"])
    lengths = {len(v["namespace"].encode()) + 1 + len(v["key"]) // 2 for v in VECTORS}
    for n in (1, 3, 4, 8, 9, 16, 17, 128, 129, 240, 241, 1000, 10000):
        assert n in lengths, f"no vector of total length {n}"
    assert sorted(FILE["partitions"]) == [1, 2, 8, 16, 64, 256, 1024, 4096, 65536]


@pytest.mark.parametrize("v", FILE["xxh3"], ids=lambda v: f"len{len(v['input']) // 2}")
def test_xxh3_raw(v):
    assert xxhash.xxh3_64_intdigest(bytes.fromhex(v["input"])) == int(v["hash"])


@pytest.mark.parametrize("v", VECTORS, ids=_id)
def test_key_hash_and_partition(v):
    key = bytes.fromhex(v["key"])
    assert key_hash(v["namespace"], key) == int(v["hash"])
    assert len(v["partition"]) == len(FILE["partitions"])
    for q in FILE["partitions"]:
        assert partition_of(v["namespace"], key, q) == v["partition"][str(q)], f"q={q}"


def test_key_hash_accepts_bytes_like():
    v = next(v for v in VECTORS if v["key"])
    key = bytes.fromhex(v["key"])
    assert key_hash(v["namespace"], bytearray(key)) == int(v["hash"])
    assert key_hash(v["namespace"], memoryview(key)) == int(v["hash"])


@pytest.mark.parametrize("q", [0, -1, 3, 6, 1000, MAX_PARTITIONS * 2, 1.0, True, "8"])
def test_partition_of_rejects_bad_counts(q):
    with pytest.raises(ValueError):
        partition_of("default", b"k", q)
