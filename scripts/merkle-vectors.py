#!/usr/bin/env python3
"""Test vectors for Integra's transparency log: RFC 9162 Merkle trees and C2SP signed notes.

This script re-implements, from the specifications alone, what the log's pure parts compute:

  - RFC 9162 (Certificate Transparency 2.0) section 2.1: the Merkle tree hash MTH, audit paths
    PATH (2.1.3.1), consistency proofs PROOF/SUBPROOF (2.1.4.1), and both verification
    algorithms (2.1.3.2, 2.1.4.2), written from the RFC's recursive definitions;
  - the stored-node model: node (level, index) is the hash of the perfect subtree over the leaves
    [index * 2^level, (index + 1) * 2^level);
  - c2sp.org/signed-note (notes, key IDs, Ed25519 signatures, verifier keys),
    c2sp.org/tlog-checkpoint (the checkpoint body) and c2sp.org/tlog-cosignature (timestamped
    Ed25519 cosignatures, cosignature/v1).

It writes every root, proof, stored node, note and signature, and cases that must be refused,
to docs/merkle-vectors.json, which the Swift tests check byte for byte.

    python3 scripts/merkle-vectors.py           rewrites docs/merkle-vectors.json
    python3 scripts/merkle-vectors.py --check   exits 1 if the file differs from a fresh run

Only the Python standard library and the `cryptography` package (Ed25519) are needed. When the
`pymerkle` package is installed (python3 -m pip install pymerkle), every root for sizes 1..300,
every small proof and every large root and proof are also checked against it. Nothing here is
derived from Integra's Swift code.

The Ed25519 seeds below are for test vectors ONLY: they are public.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import struct
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

import vectorfile

# ---------------------------------------------------------------------------------------------
# Fixed inputs
# ---------------------------------------------------------------------------------------------

SMALL_ROOT_SIZES = 300          # roots for every tree size 1..300
SMALL_PROOF_SIZES = 64          # every inclusion and consistency proof with n <= 64
LARGE_TREE_MAXIMUM = 1_000_000  # the largest tree the vectors describe
RANDOM_SEED = 9162
LARGE_RANDOM_SIZE_COUNT = 16
# Sizes around powers of two, where off-by-one mistakes hide, and the largest tree.
LARGE_FIXED_SIZES = [65_535, 65_536, 65_537, 524_288, 524_289, LARGE_TREE_MAXIMUM]
# pymerkle's own tree math is checked on large trees up to this size (it hashes every leaf of
# each perfect subtree it has not cached, so the first large root costs a full pass).
PYMERKLE_LARGE_CHECK_MAXIMUM = LARGE_TREE_MAXIMUM

LOG_SEED = bytes(range(0xA0, 0xC0))            # a0 a1 .. bf: the log's Ed25519 key (seed)
WITNESS_SEEDS = [bytes(range(0xC0, 0xE0)),     # c0 .. df: witness 1
                 bytes(range(0xE0, 0x100))]    # e0 .. ff: witness 2
LOG_ORIGIN = "integra.example/ledger"
WITNESS_NAMES = ["witness.integra.example/w1", "witness.integra.example/w2"]
COSIGNATURE_TIME = 1_767_225_600               # 2026-01-01T00:00:00Z, POSIX seconds

# Limits Integra applies to notes (c2sp.org/signed-note asks verifiers for a limit and to accept
# at least 16 signatures).
NOTE_MAXIMUM_BYTES = 16 * 1024
NOTE_MAXIMUM_SIGNATURES = 32

SIGNATURE_TYPE_ED25519 = 0x01
SIGNATURE_TYPE_COSIGNATURE_V1 = 0x04


def leaf_data(index: int) -> bytes:
    """Leaf `index` of every tree in the vectors."""
    return f"integra leaf {index}".encode("utf-8")


# ---------------------------------------------------------------------------------------------
# RFC 9162 section 2.1.1: hashes and the Merkle tree hash
# ---------------------------------------------------------------------------------------------

def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def hash_leaf(data: bytes) -> bytes:
    return sha256(b"\x00" + data)


def hash_children(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


EMPTY_ROOT = sha256(b"")


def split_point(n: int) -> int:
    """k: the largest power of two smaller than n (n > 1)."""
    assert n > 1
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth_from_leaves(leaf_hashes: list[bytes]) -> bytes:
    """MTH(D[n]) straight from the RFC's recursion, over leaf hashes: the slow reference."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = split_point(n)
    return hash_children(mth_from_leaves(leaf_hashes[:k]), mth_from_leaves(leaf_hashes[k:]))


class Tree:
    """The leaves 0..size-1 and every perfect subtree over them, computed once.

    `levels[l][i]` is stored node (l, i): the hash of leaves [i * 2^l, (i + 1) * 2^l). The RFC's
    recursive MTH, PATH and SUBPROOF below look perfect subtrees up here instead of rehashing
    their leaves, which is what lets them run on a million leaves.
    """

    def __init__(self, size: int):
        level = [hash_leaf(leaf_data(i)) for i in range(size)]
        self.levels = [level]
        while len(level) > 1:
            level = [hash_children(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            self.levels.append(level)
        self.size = size
        # When a set, every stored node (level, index) that `subtree` looks up is added to it.
        self.reads: set[tuple[int, int]] | None = None

    def leaf_hash(self, index: int) -> bytes:
        return self.levels[0][index]

    def subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) by the RFC's recursion, with perfect aligned subtrees looked up."""
        n = end - start
        assert 0 <= start <= end <= self.size
        if n == 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and start % n == 0:
            level = n.bit_length() - 1
            if self.reads is not None:
                self.reads.add((level, start >> level))
            return self.levels[level][start >> level]
        k = split_point(n)
        return hash_children(self.subtree(start, start + k), self.subtree(start + k, end))

    def root(self, n: int) -> bytes:
        return self.subtree(0, n)

    def path(self, m: int, start: int, end: int) -> list[bytes]:
        """PATH(m, D[start:end]) of RFC 9162 section 2.1.3.1 (m counts from `start`)."""
        n = end - start
        if n == 1:
            return []
        k = split_point(n)
        if m < k:
            return self.path(m, start, start + k) + [self.subtree(start + k, end)]
        return self.path(m - k, start + k, end) + [self.subtree(start, start + k)]

    def inclusion_proof(self, m: int, n: int) -> list[bytes]:
        assert 0 <= m < n <= self.size
        return self.path(m, 0, n)

    def subproof(self, m: int, start: int, end: int, whole: bool) -> list[bytes]:
        """SUBPROOF(m, D[start:end], b) of RFC 9162 section 2.1.4.1."""
        n = end - start
        if m == n:
            return [] if whole else [self.subtree(start, end)]
        k = split_point(n)
        if m <= k:
            return self.subproof(m, start, start + k, whole) + [self.subtree(start + k, end)]
        return self.subproof(m - k, start + k, end, False) + [self.subtree(start, start + k)]

    def consistency_proof(self, m: int, n: int) -> list[bytes]:
        """PROOF(m, D[n]) for 0 < m < n; empty for m == n (nothing to prove)."""
        assert 0 < m <= n <= self.size
        if m == n:
            return []
        return self.subproof(m, 0, n, True)

    def stored_nodes(self, n: int) -> list[tuple[int, int, bytes]]:
        """Every perfect subtree of the tree of n leaves: what a store holds at size n."""
        nodes = []
        for level, hashes in enumerate(self.levels):
            count = n >> level
            for index in range(count):
                nodes.append((level, index, hashes[index]))
        return nodes


# ---------------------------------------------------------------------------------------------
# RFC 9162 sections 2.1.3.2 and 2.1.4.2: verification
# ---------------------------------------------------------------------------------------------

def sides(fn: int, sn: int, count: int) -> list[bool] | None:
    """Steps a to c of both RFC algorithms, for `count` path hashes: whether each hash is a left
    sibling (HASH(0x01 || p || r)); None if sn reaches 0 too early or is not 0 at the end."""
    result = []
    for _ in range(count):
        if sn == 0:
            return None
        is_left = bool(fn & 1) or fn == sn
        if is_left and not fn & 1:
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        result.append(is_left)
        fn >>= 1
        sn >>= 1
    return result if sn == 0 else None


def verify_inclusion(leaf_hash: bytes, leaf_index: int, tree_size: int, path: list[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2."""
    if leaf_index >= tree_size or any(len(p) != 32 for p in path) or len(leaf_hash) != 32 or len(root) != 32:
        return False
    lefts = sides(leaf_index, tree_size - 1, len(path))
    if lefts is None:
        return False
    r = leaf_hash
    for p, is_left in zip(path, lefts):
        r = hash_children(p, r) if is_left else hash_children(r, p)
    return r == root


def verify_consistency(first: int, first_hash: bytes, second: int, second_hash: bytes, path: list[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2."""
    if first > second or any(len(p) != 32 for p in path) or len(first_hash) != 32 or len(second_hash) != 32:
        return False
    # Outside the RFC's 0 < first < second: equal trees need no proof, and every tree extends
    # the empty tree (whose root is SHA-256 of nothing).
    if first == 0:
        return not path and first_hash == EMPTY_ROOT
    if first == second:
        return not path and first_hash == second_hash
    if not path:
        return False
    if first & (first - 1) == 0:
        path = [first_hash] + path
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    lefts = sides(fn, sn, len(path) - 1)
    if lefts is None:
        return False
    fr = sr = path[0]
    for c, is_left in zip(path[1:], lefts):
        if is_left:
            fr = hash_children(c, fr)
            sr = hash_children(c, sr)
        else:
            sr = hash_children(sr, c)
    return fr == first_hash and sr == second_hash


# ---------------------------------------------------------------------------------------------
# Cross-check against pymerkle, when installed
# ---------------------------------------------------------------------------------------------

def pymerkle_cross_check(tree: Tree, large_sizes: list[int], large_inclusions: dict, large_consistencies: dict) -> str:
    """Checks roots and proofs against pymerkle's tree math; returns a one-line summary."""
    try:
        import pymerkle
    except ImportError:
        return "pymerkle is not installed: cross-check skipped (python3 -m pip install pymerkle)"

    class LeafHashTree(pymerkle.BaseMerkleTree):
        """pymerkle's own root and proof algorithms over leaves kept in a list."""

        def __init__(self, leaf_hashes):
            super().__init__("sha256")
            self.leaf_hashes = leaf_hashes

        def _encode_entry(self, data):
            return data

        def _store_leaf(self, data, digest):
            raise AssertionError("leaves are given, not appended")

        def _get_leaf(self, index):
            return self.leaf_hashes[index - 1]

        def _get_leaves(self, offset, width):
            return self.leaf_hashes[offset:offset + width]

        def _get_size(self):
            return len(self.leaf_hashes)

    # pymerkle's in-memory tree hashes the data itself, with the RFC 9162 prefixes (security
    # mode, the default) and SHA-256.
    consistency_proof_count = 0
    small = pymerkle.InmemoryTree(algorithm="sha256")
    for index in range(SMALL_ROOT_SIZES):
        small.append_entry(leaf_data(index))
    assert small.hash_empty() == EMPTY_ROOT
    for n in range(1, SMALL_ROOT_SIZES + 1):
        assert small.get_root(n) == tree.root(n), f"pymerkle root differs at size {n}"
    for n in range(1, SMALL_PROOF_SIZES + 1):
        for m in range(n):
            proof = small.prove_inclusion(m + 1, n)  # pymerkle counts leaves from 1
            # pymerkle's path starts with the leaf hash itself; RFC 9162's does not.
            assert proof.path[0] == tree.leaf_hash(m) and proof.path[1:] == tree.inclusion_proof(m, n), (m, n)
            pymerkle.verify_inclusion(tree.leaf_hash(m), tree.root(n), proof)
        for m in range(1, n):
            proof = small.prove_consistency(m, n)
            # Whatever its shape, pymerkle's proof must tie our two roots together.
            pymerkle.verify_consistency(tree.root(m), tree.root(n), proof)
            assert_same_consistency_proof(tree, m, n, proof.path)
            consistency_proof_count += 1

    checked = [n for n in large_sizes if n <= PYMERKLE_LARGE_CHECK_MAXIMUM]
    big = LeafHashTree(tree.levels[0])
    for n in checked:
        assert big.get_root(n) == tree.root(n), f"pymerkle root differs at size {n}"
        for m in large_inclusions[n]:
            assert big.prove_inclusion(m + 1, n).path[1:] == tree.inclusion_proof(m, n), (m, n)
        for m in (m for m in large_consistencies[n] if m < n):
            proof = big.prove_consistency(m, n)
            pymerkle.verify_consistency(tree.root(m), tree.root(n), proof)
            assert_same_consistency_proof(tree, m, n, proof.path)
    return (f"pymerkle {pymerkle.__version__} agrees: roots 1..{SMALL_ROOT_SIZES}, every inclusion proof with n <= "
            f"{SMALL_PROOF_SIZES}, {consistency_proof_count} consistency proofs (hash for hash where the shapes "
            f"agree, folded where they differ), and {len(checked)} large trees with their proofs")


def assert_same_consistency_proof(tree: Tree, m: int, n: int, pymerkle_path: list[bytes]) -> None:
    """Checks pymerkle 7's consistency proof from m to n against ours, hash for hash.

    The two differ in shape at the last step of the descent. There the old tree ends exactly at
    the split point k of [start, end): SUBPROOF goes left (m <= k) and ends with
    [base [start, start + k) unless it is the whole old tree] + [MTH(D[start + k:end])]; pymerkle
    goes right (it goes left only while m < k) and proves instead
    [leaf start + k] + [that leaf's audit path in [start + k, end)] + [MTH(D[start:start + k])],
    which pymerkle always lists, even when it is the whole old tree. The hashes above that step
    are the same in both.
    """
    ours = tree.consistency_proof(m, n)
    start, width, old, whole, upper_count = 0, n, m, True, 0
    while True:
        k = split_point(width)
        if old == k:
            break
        if old < k:
            width = k
        else:
            start, old, width, whole = start + k, old - k, width - k, False
        upper_count += 1
    split = start + k
    theirs_upper = pymerkle_path[len(pymerkle_path) - upper_count:]
    ours_upper = ours[len(ours) - upper_count:]
    assert theirs_upper == ours_upper, (m, n, "the hashes above the last step")
    theirs_lower = pymerkle_path[:len(pymerkle_path) - upper_count]
    ours_lower = ours[:len(ours) - upper_count]
    assert ours_lower == ([] if whole else [tree.subtree(start, split)]) + [tree.subtree(split, start + width)]
    assert theirs_lower[-1] == (tree.root(m) if whole else ours_lower[0]), (m, n, "the old subtree")
    right = theirs_lower[0]
    for sibling in theirs_lower[1:-1]:
        right = hash_children(right, sibling)
    assert right == ours_lower[-1], (m, n, "the new subtree folded from pymerkle's path")


# ---------------------------------------------------------------------------------------------
# c2sp.org/signed-note
# ---------------------------------------------------------------------------------------------

# The Unicode White_Space property (PropList.txt): what "Unicode spaces" means for key names, as
# Go's unicode.IsSpace takes it in golang.org/x/mod/sumdb/note.
WHITE_SPACE = set(range(0x09, 0x0E)) | {0x20, 0x85, 0xA0, 0x1680} | set(range(0x2000, 0x200B)) \
    | {0x2028, 0x2029, 0x202F, 0x205F, 0x3000}

EM_DASH_SPACE = "\u2014 ".encode("utf-8")


class Refused(Exception):
    """Input the specifications (or Integra's limits) do not allow."""


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode_canonical(text: bytes) -> bytes:
    """Standard base64 with padding, only in its canonical spelling (zero padding bits)."""
    try:
        data = base64.b64decode(text, validate=True)
    except ValueError as error:
        raise Refused("not base64") from error
    if base64.b64encode(data) != text:
        raise Refused("not canonical base64")
    return data


def valid_key_name(name: str) -> bool:
    """Non-empty, no Unicode space, no plus (and no control character, which no note holds)."""
    return name != "" and not any(ord(c) in WHITE_SPACE or c == "+" or ord(c) < 0x20 for c in name)


def key_id(name: str, signature_type: int, public_key: bytes) -> int:
    """SHA-256(key name || 0x0A || signature type || public key)[:4], big-endian."""
    return struct.unpack(">I", sha256(name.encode("utf-8") + b"\n" + bytes([signature_type]) + public_key)[:4])[0]


def verifier_key(name: str, signature_type: int, public_key: bytes) -> str:
    """<name>+<8 lowercase hex digits of the key ID>+<base64(type || public key)>."""
    return f"{name}+{key_id(name, signature_type, public_key):08x}+{b64encode(bytes([signature_type]) + public_key)}"


def parse_verifier_key(text: str) -> tuple[str, int, bytes]:
    """(name, signature type, public key) of a verifier key; Refused if anything is off."""
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise Refused("three parts")
    name, hex_id, key64 = parts
    if not valid_key_name(name):
        raise Refused("key name")
    if len(hex_id) != 8 or any(c not in "0123456789abcdefABCDEF" for c in hex_id):
        raise Refused("key ID")
    key = b64decode_canonical(key64.encode("ascii", errors="replace"))
    if len(key) != 33 or key[0] not in (SIGNATURE_TYPE_ED25519, SIGNATURE_TYPE_COSIGNATURE_V1):
        raise Refused("type and key")
    if int(hex_id, 16) != key_id(name, key[0], key[1:]):
        raise Refused("key ID does not match")
    try:
        Ed25519PublicKey.from_public_bytes(key[1:])
    except ValueError as error:
        raise Refused("not an Ed25519 key") from error
    return name, key[0], key[1:]


def signature_line(name: str, identifier: int, signature: bytes) -> str:
    return f"\u2014 {name} {b64encode(struct.pack('>I', identifier) + signature)}\n"


def format_note(text: str, lines: list[str]) -> bytes:
    return (text + "\n" + "".join(lines)).encode("utf-8")


def parse_note(note: bytes) -> tuple[str, list[tuple[str, int, bytes]]]:
    """(text, [(key name, key ID, signature bytes)]) of a signed note; Refused if malformed."""
    if len(note) > NOTE_MAXIMUM_BYTES:
        raise Refused("too large")
    try:
        decoded = note.decode("utf-8", errors="strict")
    except UnicodeDecodeError as error:
        raise Refused("not UTF-8") from error
    if any(ord(c) < 0x20 and c != "\n" for c in decoded):
        raise Refused("control character")
    split = note.rfind(b"\n\n")
    if split < 0:
        raise Refused("no blank line")
    text, block = note[:split + 1], note[split + 2:]
    if not block.endswith(b"\n"):
        raise Refused("signatures do not end with a newline")
    signatures = []
    for line in block[:-1].split(b"\n"):
        if len(signatures) == NOTE_MAXIMUM_SIGNATURES:
            raise Refused("too many signatures")
        if not line.startswith(EM_DASH_SPACE):
            raise Refused("signature line prefix")
        name, space, encoded = line[len(EM_DASH_SPACE):].partition(b" ")
        if not space:
            raise Refused("no signature")
        name = name.decode("utf-8")
        raw = b64decode_canonical(encoded)
        if not valid_key_name(name) or len(raw) < 5:
            raise Refused("signature line")
        signatures.append((name, struct.unpack(">I", raw[:4])[0], raw[4:]))
    return text.decode("utf-8"), signatures


def cosigned_message(timestamp: int, text: str) -> bytes:
    """c2sp.org/tlog-cosignature, Ed25519 signed message."""
    return f"cosignature/v1\ntime {timestamp}\n".encode("ascii") + text.encode("utf-8")


def signature_verifies(verifier: tuple[str, int, bytes], signature: bytes, text: str) -> bool:
    name, signature_type, public_key = verifier
    key = Ed25519PublicKey.from_public_bytes(public_key)
    if signature_type == SIGNATURE_TYPE_ED25519:
        message = text.encode("utf-8")
    else:
        if len(signature) != 72:
            return False
        timestamp = struct.unpack(">Q", signature[:8])[0]
        if timestamp > 2**63 - 1:
            return False
        try:
            parse_checkpoint(text)
        except Refused:
            return False
        message, signature = cosigned_message(timestamp, text), signature[8:]
    if len(signature) != 64:
        return False
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def open_note(note: bytes, verifiers: list[tuple[str, int, bytes]]) -> list[str]:
    """Names of the known keys whose signatures verify: unknown keys are ignored, the first
    signature by a known key must verify (else Refused), later ones by it are skipped, and at
    least one must verify (as c2sp.org/signed-note and Go's note.Open require)."""
    text, signatures = parse_note(note)
    known = {(name.encode("utf-8"), key_id(name, kind, key)): (name, kind, key) for name, kind, key in verifiers}
    seen, verified = set(), []
    for name, identifier, signature in signatures:
        identity = (name.encode("utf-8"), identifier)
        if identity not in known or identity in seen:
            continue
        seen.add(identity)
        if not signature_verifies(known[identity], signature, text):
            raise Refused(f"invalid signature by {name}")
        verified.append(name)
    if not verified:
        raise Refused("no signature by a known key")
    return verified


# ---------------------------------------------------------------------------------------------
# c2sp.org/tlog-checkpoint
# ---------------------------------------------------------------------------------------------

def checkpoint_text(origin: str, size: int, root: bytes, extensions: tuple[str, ...] = ()) -> str:
    return "".join(line + "\n" for line in (origin, str(size), b64encode(root)) + tuple(extensions))


def parse_checkpoint(text: str) -> tuple[str, int, bytes, list[str]]:
    """(origin, tree size, root hash, extension lines); Refused unless strictly well formed."""
    if len(text.encode("utf-8")) > NOTE_MAXIMUM_BYTES or not text.endswith("\n"):
        raise Refused("size or final newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise Refused("fewer than three lines")
    origin, size_text, root_text, extensions = lines[0], lines[1], lines[2], lines[3:]
    if origin == "" or any(line == "" for line in extensions):
        raise Refused("empty line")
    if any(ord(c) < 0x20 for line in [origin] + extensions for c in line):
        raise Refused("control character")
    if not size_text or any(c not in "0123456789" for c in size_text) or (size_text[0] == "0" and size_text != "0"):
        raise Refused("tree size")
    size = int(size_text)
    if size >= 2**64:
        raise Refused("tree size too large")
    root = b64decode_canonical(root_text.encode("utf-8"))
    if len(root) != 32:
        raise Refused("root hash length")
    return origin, size, root, extensions


# ---------------------------------------------------------------------------------------------
# The vectors
# ---------------------------------------------------------------------------------------------

def hexes(hashes: list[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


def flip(data: bytes, position: int = 0) -> bytes:
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1:]


def large_sizes() -> list[int]:
    generator = random.Random(RANDOM_SEED)
    sizes = {generator.randrange(SMALL_ROOT_SIZES + 1, LARGE_TREE_MAXIMUM) for _ in range(LARGE_RANDOM_SIZE_COUNT)}
    return sorted(sizes | set(LARGE_FIXED_SIZES))


def merkle_vectors(tree: Tree) -> tuple[dict, str]:
    generator = random.Random(RANDOM_SEED + 1)
    sizes = large_sizes()
    inclusion_indices = {n: sorted({0, 1, n // 2, n - 2, n - 1, generator.randrange(n)}) for n in sizes}
    consistency_sizes = {n: sorted({1, 2, 1 << (n.bit_length() - 1) if n & (n - 1) else n // 2, n - 1, n,
                                    generator.randrange(1, n)}) for n in sizes}
    large = []
    for n in sizes:
        old_roots = {m: tree.root(m) for m in consistency_sizes[n]}
        tree.reads = set()
        root = tree.root(n)
        inclusions = []
        for m in inclusion_indices[n]:
            path = tree.inclusion_proof(m, n)
            assert verify_inclusion(tree.leaf_hash(m), m, n, path, root)
            inclusions.append({"leaf_index": m, "leaf_hash": tree.leaf_hash(m).hex(), "path": hexes(path)})
        consistencies = []
        for m in consistency_sizes[n]:
            path = tree.consistency_proof(m, n)
            assert verify_consistency(m, old_roots[m], n, root, path)
            consistencies.append({"old_size": m, "old_root": old_roots[m].hex(), "path": hexes(path)})
        # The stored nodes the recursion consulted for this tree's root and proofs: all a store
        # needs to serve them, and all the Swift tests get (a million leaves take too long to
        # hash in a debug build).
        nodes = [[level, index, tree.levels[level][index].hex()] for level, index in sorted(tree.reads)]
        tree.reads = None
        large.append({"tree_size": n, "root": root.hex(), "inclusion": inclusions, "consistency": consistencies, "nodes": nodes})

    summary = pymerkle_cross_check(tree, sizes, inclusion_indices, consistency_sizes)

    roots = []
    reference_leaves = tree.levels[0][:SMALL_ROOT_SIZES]
    for n in range(1, SMALL_ROOT_SIZES + 1):
        root = tree.root(n)
        assert root == mth_from_leaves(reference_leaves[:n]), f"lookup and plain recursion differ at {n}"
        roots.append(root.hex())

    inclusion = []
    consistency = []
    for n in range(1, SMALL_PROOF_SIZES + 1):
        for m in range(n):
            path = tree.inclusion_proof(m, n)
            assert verify_inclusion(tree.leaf_hash(m), m, n, path, tree.root(n))
            inclusion.append({"leaf_index": m, "tree_size": n, "path": hexes(path)})
        for m in range(1, n + 1):
            path = tree.consistency_proof(m, n)
            assert verify_consistency(m, tree.root(m), n, tree.root(n), path)
            consistency.append({"old_size": m, "new_size": n, "path": hexes(path)})

    vectors = {
        "leaf_rule": "leaf i is the UTF-8 bytes of \"integra leaf <i>\"; its leaf hash is SHA-256(0x00 || leaf)",
        "empty_root": EMPTY_ROOT.hex(),
        "leaves": [{"index": i, "data": leaf_data(i).decode("utf-8"), "leaf_hash": tree.leaf_hash(i).hex()} for i in range(4)],
        "roots": roots,
        "stored_nodes_tree_size": SMALL_ROOT_SIZES,
        "stored_nodes": [[level, index, digest.hex()] for level, index, digest in tree.stored_nodes(SMALL_ROOT_SIZES)],
        "inclusion": inclusion,
        "consistency": consistency,
        "large": large,
        "negative_inclusion": negative_inclusion(tree),
        "negative_consistency": negative_consistency(tree),
    }
    return vectors, summary


def negative_inclusion(tree: Tree) -> list[dict]:
    m, n = 5, 13
    leaf, root, path = tree.leaf_hash(m), tree.root(n), tree.inclusion_proof(m, n)
    top = 2**64 - 1
    cases = [
        ("a path hash changed", leaf, m, n, [flip(path[0])] + path[1:], root),
        ("the last path hash changed", leaf, m, n, path[:-1] + [flip(path[-1], 31)], root),
        ("another leaf's hash", tree.leaf_hash(m + 1), m, n, path, root),
        ("the next leaf index", leaf, m + 1, n, path, root),
        # Sizes with another tree shape (13 and 14, say, share this path's shape, so the root
        # alone tells those trees apart).
        ("a tree twice as large", leaf, m, 2 * n, path, root),
        ("a smaller tree of another shape", leaf, m, 8, path, root),
        ("another tree's root", leaf, m, n, path, tree.root(n + 1)),
        ("a hash added to the path", leaf, m, n, path + [tree.leaf_hash(0)], root),
        ("the path's last hash removed", leaf, m, n, path[:-1], root),
        ("the path reversed", leaf, m, n, list(reversed(path)), root),
        ("an empty path", leaf, m, n, [], root),
        ("a 31-byte path hash", leaf, m, n, [path[0][:31]] + path[1:], root),
        ("a 33-byte root", leaf, m, n, path, root + b"\x00"),
        ("leaf index equal to the tree size", leaf, n, n, path, root),
        ("an empty tree", leaf, 0, 0, [], EMPTY_ROOT),
        ("a one-leaf tree with a path", leaf, 0, 1, [leaf], leaf),
        ("the largest sizes", leaf, top, top, [leaf] * 64, root),
        ("the last leaf of the largest tree", leaf, top - 1, top, [leaf] * 64, root),
        ("65 hashes", leaf, 0, top, [leaf] * 65, root),
    ]
    vectors = []
    for why, leaf_hash, index, size, proof, expected_root in cases:
        assert not verify_inclusion(leaf_hash, index, size, proof, expected_root), why
        vectors.append({"why": why, "leaf_hash": leaf_hash.hex(), "leaf_index": index, "tree_size": size,
                        "path": hexes(proof), "root": expected_root.hex()})
    return vectors


def negative_consistency(tree: Tree) -> list[dict]:
    top = 2**64 - 1
    vectors = []

    def case(why, old_size, old_root, new_size, new_root, path):
        assert not verify_consistency(old_size, old_root, new_size, new_root, path), why
        vectors.append({"why": why, "old_size": old_size, "old_root": old_root.hex(), "new_size": new_size,
                        "new_root": new_root.hex(), "path": hexes(path)})

    for m, n in ((6, 13), (4, 13), (7, 8)):
        old, new, path = tree.root(m), tree.root(n), tree.consistency_proof(m, n)
        case(f"{m} to {n}: a path hash changed", m, old, n, new, [flip(path[0])] + path[1:])
        case(f"{m} to {n}: the last path hash changed", m, old, n, new, path[:-1] + [flip(path[-1], 31)])
        case(f"{m} to {n}: another old root", m, tree.root(m - 1), n, new, path)
        case(f"{m} to {n}: another new root", m, old, n, tree.root(n - 1), path)
        case(f"{m} to {n}: the roots swapped", m, new, n, old, path)
        case(f"{m} to {n}: a new tree twice as large", m, old, 2 * n, new, path)
        case(f"{m} to {n}: a smaller old size", m - 1, old, n, new, path)
        case(f"{m} to {n}: a hash added", m, old, n, new, path + [path[0]])
        case(f"{m} to {n}: the last hash removed", m, old, n, new, path[:-1])
        case(f"{m} to {n}: an empty path", m, old, n, new, [])
        case(f"{m} to {n}: sizes swapped", n, new, m, old, path)
    root5, root9 = tree.root(5), tree.root(9)
    case("equal sizes with a path", 9, root9, 9, root9, [root5])
    case("equal sizes with other roots", 9, root9, 9, root5, [])
    case("an empty old tree with a path", 0, EMPTY_ROOT, 9, root9, [root5])
    case("an empty old tree with another root", 0, root5, 9, root9, [])
    case("a 31-byte path hash", 6, tree.root(6), 13, tree.root(13), [h[:31] for h in tree.consistency_proof(6, 13)])
    case("the largest sizes", top - 1, root5, top, root9, [root5] * 65)
    case("66 hashes", 1, root5, top, root9, [root5] * 66)
    case("old size above new size at the top", top, root5, top - 1, root9, [root5])
    return vectors


def note_vectors(tree: Tree) -> dict:
    def key_pair(seed: bytes) -> tuple[Ed25519PrivateKey, bytes]:
        private = Ed25519PrivateKey.from_private_bytes(seed)
        public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return private, public

    log_private, log_public = key_pair(LOG_SEED)
    witnesses = [key_pair(seed) for seed in WITNESS_SEEDS]
    log_verifier = (LOG_ORIGIN, SIGNATURE_TYPE_ED25519, log_public)
    witness_verifiers = [(name, SIGNATURE_TYPE_COSIGNATURE_V1, public) for name, (_, public) in zip(WITNESS_NAMES, witnesses)]
    log_id = key_id(LOG_ORIGIN, SIGNATURE_TYPE_ED25519, log_public)

    def log_line(text: str) -> str:
        return signature_line(LOG_ORIGIN, log_id, log_private.sign(text.encode("utf-8")))

    def cosignature_line(witness: int, text: str, timestamp: int) -> str:
        private, public = witnesses[witness]
        signature = struct.pack(">Q", timestamp) + private.sign(cosigned_message(timestamp, text))
        return signature_line(WITNESS_NAMES[witness], key_id(WITNESS_NAMES[witness], SIGNATURE_TYPE_COSIGNATURE_V1, public), signature)

    checkpoints = []
    for size, extensions in ((300, ()), (0, ()), (LARGE_TREE_MAXIMUM, ()), (64, ("integra: extension line one", "second line — ü"))):
        root = tree.root(size)
        text = checkpoint_text(LOG_ORIGIN, size, root, extensions)
        assert parse_checkpoint(text) == (LOG_ORIGIN, size, root, list(extensions))
        note = format_note(text, [log_line(text)])
        assert open_note(note, [log_verifier]) == [LOG_ORIGIN]
        checkpoints.append({"tree_size": size, "root": root.hex(), "extension_lines": list(extensions),
                            "text": text, "signature_line": log_line(text), "note": note.decode("utf-8")})

    text = checkpoints[0]["text"]
    cosigned_lines = [log_line(text), cosignature_line(0, text, COSIGNATURE_TIME), cosignature_line(1, text, COSIGNATURE_TIME + 1)]
    cosigned_note = format_note(text, cosigned_lines)
    assert open_note(cosigned_note, [log_verifier] + witness_verifiers) == [LOG_ORIGIN] + WITNESS_NAMES
    assert open_note(cosigned_note, [log_verifier]) == [LOG_ORIGIN]
    assert open_note(cosigned_note, [witness_verifiers[1]]) == [WITNESS_NAMES[1]]

    keys = {
        "log": {"name": LOG_ORIGIN, "seed": LOG_SEED.hex(), "public_key": log_public.hex(), "key_id": f"{log_id:08x}",
                "verifier_key": verifier_key(*log_verifier)},
        "witnesses": [{"name": name, "seed": seed.hex(), "public_key": public.hex(),
                       "key_id": f"{key_id(name, SIGNATURE_TYPE_COSIGNATURE_V1, public):08x}",
                       "verifier_key": verifier_key(name, SIGNATURE_TYPE_COSIGNATURE_V1, public)}
                      for name, seed, (_, public) in zip(WITNESS_NAMES, WITNESS_SEEDS, witnesses)],
    }
    for entry in [keys["log"]] + keys["witnesses"]:
        assert parse_verifier_key(entry["verifier_key"])[2].hex() == entry["public_key"]

    cosignatures = [{"witness": index, "timestamp": COSIGNATURE_TIME + index,
                     "signed_message": cosigned_message(COSIGNATURE_TIME + index, text).decode("utf-8"),
                     "signature_line": cosigned_lines[index + 1]} for index in range(2)]

    return {
        "keys": keys,
        "checkpoints": checkpoints,
        "cosignatures": cosignatures,
        "cosigned_note": cosigned_note.decode("utf-8"),
        "interoperability": interoperability_vectors(),
        "verification_cases": verification_cases(text, log_verifier, witness_verifiers, log_line, cosignature_line),
        "malformed_notes": malformed_notes(text, log_line(text)),
        "malformed_verifier_keys": malformed_verifier_keys(log_public),
        "accepted_verifier_keys": [keys["log"]["verifier_key"].replace(keys["log"]["key_id"], keys["log"]["key_id"].upper())],
        "malformed_checkpoints": malformed_checkpoints(tree.root(300)),
    }


def interoperability_vectors() -> dict:
    """Known answers published elsewhere, so the implementations meet more than each other.

    The signed note and verifier key are the example in the documentation of Go's
    golang.org/x/mod/sumdb/note; its signer key "PRIVATE+KEY+PeterNeumann+c74f20a3+AY..." holds
    the Ed25519 seed. The cosigned checkpoint is the example of c2sp.org/tlog-cosignature (whose
    keys are not published, so it is only parsed: its timestamp is the "time" line of the
    specification's signed-message example).
    """
    go_seed = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
    go_text = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
    go_note = (go_text + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n")
    go_verifier_key = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    private = Ed25519PrivateKey.from_private_bytes(go_seed)
    public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert verifier_key("PeterNeumann", SIGNATURE_TYPE_ED25519, public) == go_verifier_key
    assert format_note(go_text, [signature_line("PeterNeumann", 0xC74F20A3, private.sign(go_text.encode()))]) == go_note.encode()
    assert open_note(go_note.encode(), [parse_verifier_key(go_verifier_key)]) == ["PeterNeumann"]

    c2sp_note = ("example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
                 "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
                 "\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n")
    text, signatures = parse_note(c2sp_note.encode())
    assert parse_checkpoint(text)[:2] == ("example.com/behind-the-sofa", 20852163)
    witness_name, witness_id, witness_signature = signatures[1]
    timestamp = struct.unpack(">Q", witness_signature[:8])[0]
    assert timestamp == 1679315147 and len(witness_signature) == 72
    return {
        "go_note": {"seed": go_seed.hex(), "key_name": "PeterNeumann", "verifier_key": go_verifier_key, "text": go_text, "note": go_note},
        "c2sp_cosigned_checkpoint": {"note": c2sp_note, "witness": witness_name, "witness_key_id": f"{witness_id:08x}",
                                     "timestamp": timestamp, "tree_size": 20852163},
    }


def verification_cases(text, log_verifier, witness_verifiers, log_line, cosignature_line) -> list[dict]:
    """Notes with the verifier keys a client knows, and what opening them must give."""
    other_log = Ed25519PrivateKey.from_private_bytes(sha256(b"integra merkle-vectors: another log key"))
    other_public = other_log.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    other_id = key_id(LOG_ORIGIN, SIGNATURE_TYPE_ED25519, other_public)
    tampered = text.replace("\n300\n", "\n301\n")
    good, cosign = log_line(text), cosignature_line(0, text, COSIGNATURE_TIME)
    _, log_id, log_signature = parse_note(format_note(text, [good]))[1][0]
    _, witness_id, witness_signature = parse_note(format_note(text, [cosign]))[1][0]
    forged_time = signature_line(WITNESS_NAMES[0], witness_id, struct.pack(">Q", COSIGNATURE_TIME + 1) + witness_signature[8:])
    private = Ed25519PrivateKey.from_private_bytes(WITNESS_SEEDS[0])
    too_late = 2**63
    late = signature_line(WITNESS_NAMES[0], witness_id,
                          struct.pack(">Q", too_late) + private.sign(cosigned_message(too_late, text)))
    plain_text = "not a checkpoint\n"
    not_checkpoint = signature_line(WITNESS_NAMES[0], witness_id,
                                    struct.pack(">Q", COSIGNATURE_TIME) + private.sign(cosigned_message(COSIGNATURE_TIME, plain_text)))
    as_plain = signature_line(WITNESS_NAMES[0], witness_id, private.sign(text.encode()))
    short = signature_line(LOG_ORIGIN, log_id, log_signature[:63])

    log_key = verifier_key(*log_verifier)
    witness_key = verifier_key(*witness_verifiers[0])
    cases = [
        ("signed by the log", text, [good], [log_key], [LOG_ORIGIN]),
        ("a second, bad signature by the same key is skipped", text, [good, short], [log_key], [LOG_ORIGIN]),
        ("an unknown key's signature is ignored", text, [signature_line("someone.example/else", 7, b"x" * 64), good], [log_key], [LOG_ORIGIN]),
        ("a key with the log's name but another ID is unknown", text, [signature_line(LOG_ORIGIN, other_id, other_log.sign(text.encode()))], [log_key], None),
        ("the tree size changed after signing", tampered, [good], [log_key], None),
        ("a bad signature by the known key comes first", text, [short, good], [log_key], None),
        ("a signature of 63 bytes", text, [short], [log_key], None),
        ("no key known", text, [good], [], None),
        ("cosigned", text, [good, cosign], [log_key, witness_key], [LOG_ORIGIN, WITNESS_NAMES[0]]),
        ("a cosignature's timestamp changed", text, [good, forged_time], [log_key, witness_key], None),
        ("a cosignature's timestamp above 2^63 - 1", text, [late], [witness_key], None),
        ("a cosignature over a text that is not a checkpoint", plain_text, [not_checkpoint], [witness_key], None),
        ("a plain Ed25519 signature under the cosigner's key ID", text, [as_plain], [witness_key], None),
    ]
    vectors = []
    for why, note_text, lines, keys, expected in cases:
        note = format_note(note_text, lines)
        verifiers = [parse_verifier_key(key) for key in keys]
        try:
            result = open_note(note, verifiers)
        except Refused:
            result = None
        assert result == expected, (why, result)
        vectors.append({"why": why, "note": note.decode("utf-8"), "verifier_keys": keys, "verified": expected})
    return vectors


def malformed_notes(text: str, line: str) -> list[dict]:
    """Notes that must not parse, whatever the keys."""
    good = format_note(text, [line])
    body = line[len("\u2014 "):]
    name, encoded = body.rstrip("\n").split(" ")
    raw = base64.b64decode(encoded)
    noncanonical = encoded[:-2] + chr(ord(encoded[-2]) + 1) + "="  # sets a padding bit
    cases = [
        ("no blank line", text.encode() + line.encode()),
        ("no signature line", text.encode() + b"\n"),
        ("a signature line without its newline", good[:-1]),
        ("a blank line after the signatures", good + b"\n"),
        ("two hyphens for the em dash", text.encode() + b"\n-- " + body.encode()),
        ("no space after the em dash", text.encode() + "\n\u2014".encode() + body.encode()),
        ("a tab after the em dash", text.encode() + "\n\u2014\t".encode() + body.encode()),
        ("no signature after the name", text.encode() + f"\n\u2014 {name}\n".encode()),
        ("an empty key name", text.encode() + f"\n\u2014  {encoded}\n".encode()),
        ("a plus in the key name", text.encode() + f"\n\u2014 a+b {encoded}\n".encode()),
        ("a no-break space in the key name", text.encode() + f"\n\u2014 a\u00a0b {encoded}\n".encode()),
        ("an ideographic space in the key name", text.encode() + f"\n\u2014 a\u3000b {encoded}\n".encode()),
        ("two spaces before the signature", text.encode() + f"\n\u2014 {name}  {encoded}\n".encode()),
        ("a space after the signature", text.encode() + f"\n\u2014 {name} {encoded} \n".encode()),
        ("base64 without padding", text.encode() + f"\n\u2014 {name} {encoded.rstrip('=')}\n".encode()),
        ("base64 with a padding bit set", text.encode() + f"\n\u2014 {name} {noncanonical}\n".encode()),
        ("URL-safe base64", text.encode() + f"\n\u2014 {name} {base64.urlsafe_b64encode(raw).decode()}\n".encode()
         if base64.urlsafe_b64encode(raw) != base64.b64encode(raw) else None),
        ("a signature of only four bytes (a key ID)", text.encode() + f"\n\u2014 {name} {b64encode(raw[:4])}\n".encode()),
        ("an empty signature", text.encode() + f"\n\u2014 {name} \n".encode()),
        ("a carriage return", good.replace(b"\n\n", b"\r\n\n")),
        ("a NUL byte in the text", b"\x00" + good),
        ("a tab in the text", b"\t" + good),
        ("invalid UTF-8", b"\xff" + good),
        ("a lone continuation byte", good.replace(b"\n300\n", b"\n300\x80\n")),
        ("an overlong encoding", good.replace(b"/ledger", b"\xc0\xafledger")),
        ("a UTF-16 surrogate", good.replace(b"/ledger", b"\xed\xa0\x80ledger")),
        ("an empty note", b""),
        ("33 signature lines", text.encode() + b"\n" + line.encode() * (NOTE_MAXIMUM_SIGNATURES + 1)),
        ("over 16 KiB", b"x" * (NOTE_MAXIMUM_BYTES - len(good) + 1) + good),
    ]
    # The limits themselves are fine: 32 signature lines, and exactly 16 KiB.
    parse_note(text.encode() + b"\n" + line.encode() * NOTE_MAXIMUM_SIGNATURES)
    parse_note(b"x" * (NOTE_MAXIMUM_BYTES - len(good)) + good)
    return refused_cases([(why, note) for why, note in cases if note is not None], parse_note, "note_hex")


def malformed_verifier_keys(public_key: bytes) -> list[dict]:
    good = verifier_key(LOG_ORIGIN, SIGNATURE_TYPE_ED25519, public_key)
    name, hex_id, key64 = good.split("+", 2)
    wrong_id = f"{(int(hex_id, 16) ^ 1):08x}"
    ecdsa_type = b64encode(bytes([0x02]) + public_key)
    cases = [
        ("a key ID that does not match", f"{name}+{wrong_id}+{key64}"),
        ("a seven-digit key ID", f"{name}+{hex_id[1:]}+{key64}"),
        ("a key ID that is not hex", f"{name}+{hex_id[:7]}g+{key64}"),
        ("no key", f"{name}+{hex_id}+"),
        ("two parts", f"{name}+{hex_id}"),
        ("an empty name", f"+{hex_id}+{key64}"),
        ("a space in the name", f"integra ledger+{hex_id}+{key64}"),
        ("signature type 0x02", f"{name}+{key_id(name, 0x02, public_key):08x}+{ecdsa_type}"),
        ("a 31-byte key", f"{name}+{key_id(name, 1, public_key[:31]):08x}+{b64encode(bytes([1]) + public_key[:31])}"),
        ("a 33-byte key", f"{name}+{key_id(name, 1, public_key + b'0'):08x}+{b64encode(bytes([1]) + public_key + b'0')}"),
        ("a group of padding after the key", f"{name}+{hex_id}+{key64}===="),
        ("a space before the key", f"{name}+{hex_id}+ {key64}"),
    ]
    return refused_cases(cases, parse_verifier_key, "verifier_key")


def malformed_checkpoints(root: bytes) -> list[dict]:
    root64 = b64encode(root)
    cases = [
        ("a leading zero in the tree size", f"{LOG_ORIGIN}\n0300\n{root64}\n"),
        ("a plus sign in the tree size", f"{LOG_ORIGIN}\n+300\n{root64}\n"),
        ("a negative tree size", f"{LOG_ORIGIN}\n-1\n{root64}\n"),
        ("a space before the tree size", f"{LOG_ORIGIN}\n 300\n{root64}\n"),
        ("an empty tree size", f"{LOG_ORIGIN}\n\n{root64}\n"),
        ("a tree size of 2^64", f"{LOG_ORIGIN}\n18446744073709551616\n{root64}\n"),
        ("a 21-digit tree size", f"{LOG_ORIGIN}\n100000000000000000000\n{root64}\n"),
        ("a hexadecimal tree size", f"{LOG_ORIGIN}\n0x12c\n{root64}\n"),
        ("an empty origin", f"\n300\n{root64}\n"),
        ("a 31-byte root hash", f"{LOG_ORIGIN}\n300\n{b64encode(root[:31])}\n"),
        ("a 33-byte root hash", f"{LOG_ORIGIN}\n300\n{b64encode(root + b'0')}\n"),
        ("a hex root hash", f"{LOG_ORIGIN}\n300\n{root.hex()}\n"),
        ("a root hash without padding", f"{LOG_ORIGIN}\n300\n{root64.rstrip('=')}\n"),
        ("no final newline", f"{LOG_ORIGIN}\n300\n{root64}"),
        ("two lines", f"{LOG_ORIGIN}\n300\n"),
        ("an empty extension line", f"{LOG_ORIGIN}\n300\n{root64}\n\n"),
        ("an empty line between extension lines", f"{LOG_ORIGIN}\n300\n{root64}\nfirst\n\nthird\n"),
        ("a tab in the origin", f"integra\t{LOG_ORIGIN}\n300\n{root64}\n"),
    ]
    assert parse_checkpoint(f"{LOG_ORIGIN}\n18446744073709551615\n{root64}\n")[1] == 2**64 - 1
    return refused_cases(cases, parse_checkpoint, "text")


def refused_cases(cases: list[tuple[str, object]], parse, field: str) -> list[dict]:
    """The cases as vectors, after checking that `parse` refuses every one of them."""
    vectors = []
    for why, value in cases:
        try:
            parse(value)
        except Refused:
            vectors.append({"why": why, field: value.hex() if isinstance(value, bytes) else value})
            continue
        raise AssertionError(f"a malformed input was accepted: {why}")
    return vectors


def build_vectors() -> tuple[dict, str]:
    tree = Tree(LARGE_TREE_MAXIMUM)
    merkle, summary = merkle_vectors(tree)
    vectors = {
        "version": 1,
        "description": ("Integra transparency log vectors: RFC 9162 Merkle tree roots, inclusion and consistency "
                        "proofs, stored perfect-subtree nodes, and C2SP signed notes, checkpoints and "
                        "cosignatures. Generated by scripts/merkle-vectors.py; hashes are lowercase hex."),
        "merkle": merkle,
        "notes": note_vectors(tree),
    }
    return vectors, summary


def render(vectors: dict) -> str:
    """JSON with one proof, node or case per line, so the file stays readable and diffs well."""
    def holds_structures(item) -> bool:
        values = item.values() if isinstance(item, dict) else item
        return any(isinstance(value, dict) or (isinstance(value, list) and value and isinstance(value[0], dict)) for value in values)

    def dump(value, indent: int) -> str:
        pad = " " * indent
        if isinstance(value, dict):
            items = [f"{pad}  {json.dumps(key)}: {dump(item, indent + 2).lstrip()}" for key, item in value.items()]
            return pad + "{\n" + ",\n".join(items) + "\n" + pad + "}"
        if isinstance(value, list) and value and all(isinstance(item, (dict, list)) for item in value):
            if any(holds_structures(item) for item in value):
                lines = [dump(item, indent + 2) for item in value]
            else:
                lines = [pad + "  " + json.dumps(item, ensure_ascii=False) for item in value]
            return pad + "[\n" + ",\n".join(lines) + "\n" + pad + "]"
        if isinstance(value, list) and len(value) > 16:
            return pad + "[\n" + ",\n".join(pad + "  " + json.dumps(item, ensure_ascii=False) for item in value) + "\n" + pad + "]"
        return pad + json.dumps(value, ensure_ascii=False)

    return dump(vectors, 0) + "\n"


def generate() -> str:
    vectors, summary = build_vectors()
    print(summary)
    return render(vectors)


if __name__ == "__main__":
    sys.exit(vectorfile.run(__doc__.splitlines()[0], "merkle-vectors.json", "merkle-vectors.py", generate))
