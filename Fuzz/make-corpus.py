#!/usr/bin/env python3
"""Writes Integra's fuzz seed corpus (Fuzz/corpus/) from docs/protocol-vectors.json plus a few
hand-made edge cases. Each file is a byte stream as a peer would send it: one or more frames,
a partial frame, or short text for the amount and name rules. Run it again when the vectors
change; the Swift test FuzzRegressionTests checks that every vector frame is in the corpus.

MACs of hand-made frames are zero: the fuzz harness reseals frames with the vectors' keys.
"""
import json
import pathlib
import shutil
import struct

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "Fuzz" / "corpus"
VECTORS = json.loads((ROOT / "docs" / "protocol-vectors.json").read_text())
BASE_MS = 1767225600000


def field(tag, value):
    return struct.pack(">BH", tag, len(value)) + value


def frame(type_, body, direction=1, sequence=0, timestamp_ms=BASE_MS, version=1, flags=0):
    header = struct.pack(">BBBBQq", version, type_, direction, flags, sequence, timestamp_ms) + bytes([0x33] * 16)
    rest = header + body + bytes(32)
    return struct.pack(">I", len(rest)) + rest


def u64(value):
    return struct.pack(">Q", value)


def edge_cases():
    hello = bytes.fromhex(VECTORS["frames"][0]["frame"])
    transfer = lambda amount: field(1, b"t-1") + field(2, b"bob") + field(3, amount)
    entry = field(1, u64(3)) + field(2, b"\x01") + field(3, b"t-9") + field(4, b"alice") + field(5, b"bob") \
        + field(6, b"0.01") + field(7, b"99999.99") + field(8, u64(BASE_MS))
    return {
        "empty-stream": b"",
        "length-above-limit": struct.pack(">I", 64 * 1024) + bytes(8),
        "length-below-minimum": struct.pack(">I", 8) + bytes(64),
        "partial-hello": hello[:50],
        "hello-twice-then-partial": hello + hello + hello[:7],
        "transfer-zero-amount": frame(4, transfer(b"0.00")),
        "transfer-largest-amount": frame(4, transfer(b"92233720368547758.07")),
        "transfer-amount-overflow": frame(4, transfer(b"92233720368547758.08")),
        "transfer-three-decimals": frame(4, transfer(b"1.005")),
        "history-limit-zero": frame(6, field(2, b"\x00\x00")),
        "history-before-and-limit": frame(6, field(1, u64(2**64 - 1)) + field(2, b"\x00\x64")),
        "field-truncated": frame(5, b"\x01\x00\x09abc"),
        "field-duplicated": frame(1, field(1, b"alice") + field(1, b"alice") + field(2, b"password")),
        "field-unknown": frame(3, field(9, b"x")),
        "field-wrong-width": frame(8, field(1, b"\x00\x01")),
        "invalid-utf8-username": frame(1, field(1, b"\xc3\x28") + field(2, b"correct horse battery")),
        "hello-short-connection-id": frame(0x81, field(1, bytes(15)) + field(2, u64(120000)), direction=2),
        "history-page-two-entries": frame(0x87, field(1, field(1, entry) + field(1, entry)) + field(2, u64(1)), direction=2),
        "inclusion-proof-two-digests": frame(0x89, field(1, u64(5)) + field(2, bytes(64)) + field(3, u64(7)) + field(4, bytes(32))
                                             + field(5, u64(BASE_MS)) + field(6, bytes(64)), direction=2),
        # Inputs that crashed the inclusion-proof check (FuzzRegressionTests).
        "proof-position-overflow": frame(0x89, field(1, u64(2**64 - 1)) + field(2, bytes(32)) + field(3, u64(0)) + field(4, bytes(32))
                                         + field(5, u64(0)) + field(6, bytes(64)), direction=2),
        "proof-position-beyond-ledger": frame(0x89, field(1, u64(2**63)) + field(2, b"") + field(3, u64(2**63)) + field(4, bytes(32))
                                              + field(5, u64(0)) + field(6, bytes(64)), direction=2),
        "error-unknown-code": frame(0xFF, field(1, b"\x03\xe7") + field(2, b"?"), direction=2),
        "unknown-type": frame(0x42, b""),
        "wrong-version": frame(5, b"", version=2),
        "stale-timestamp": frame(5, b"", timestamp_ms=0),
        "text-amount": b"100.5",
        "text-name": "J\u00f6rg O\u0308stlund_2".encode(),
    }


def main():
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    CORPUS.mkdir(parents=True)
    frames = VECTORS["frames"]
    for vector in frames:
        (CORPUS / f"vector-{vector['name']}").write_bytes(bytes.fromhex(vector["frame"]))
    for direction in ("c2s", "s2c"):
        stream = b"".join(bytes.fromhex(v["frame"]) for v in frames if v["direction"] == direction)
        (CORPUS / f"conversation-{direction}").write_bytes(stream)
    for name, data in edge_cases().items():
        (CORPUS / f"edge-{name}").write_bytes(data)
    total = sum(path.stat().st_size for path in CORPUS.iterdir())
    print(f"{len(list(CORPUS.iterdir()))} files, {total} bytes in {CORPUS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
