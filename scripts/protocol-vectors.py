#!/usr/bin/env python3
"""Test vectors for the Integra wire protocol (version 1), and a reference client implementation.

This script re-implements, from docs/PROTOCOL.md, everything a client needs: the frame format,
the field (TLV) encoding of message bodies, the key schedule, the login handshake (X25519,
HKDF-SHA256 and the server's Ed25519 signature over the transcript) and the frame MAC. It then
plays one complete conversation on one connection with FIXED keys, nonces and timestamps and
writes every frame, with its parts, to docs/protocol-vectors.json.

    python3 scripts/protocol-vectors.py           rewrites docs/protocol-vectors.json
    python3 scripts/protocol-vectors.py --check   exits 1 if the file differs from a fresh run

Only the Python standard library and the `cryptography` package (for X25519 and Ed25519) are
used. Nothing here is derived from the server's source code at run time.

The fixed inputs are for test vectors ONLY. A real client must take every nonce and every
ephemeral X25519 key from a cryptographically secure random number generator, and must never
reuse them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import struct
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

import vectorfile

# ---------------------------------------------------------------------------------------------
# Protocol constants
# ---------------------------------------------------------------------------------------------

PROTOCOL_VERSION = 1
LENGTH_FIELD_BYTES = 4      # the UInt32 length prefix
HEADER_BYTES = 40           # length prefix .. end of nonce
NONCE_BYTES = 16
MAC_BYTES = 32              # HMAC-SHA256
MINIMUM_FRAME_BYTES = HEADER_BYTES + MAC_BYTES  # 72: header and MAC, empty body
DEFAULT_MAXIMUM_FRAME_BYTES = 64 * 1024         # whole frame, length prefix included
HARD_MAXIMUM_FRAME_BYTES = 1024 * 1024

DIRECTION_C2S = 1
DIRECTION_S2C = 2

# Message types. Client messages are below 0x80, server messages 0x80 and above.
REGISTER = 0x01
LOGIN = 0x02
LOGOUT = 0x03
TRANSFER = 0x04
BALANCE = 0x05
HISTORY = 0x06
CHANGE_PASSWORD = 0x07
PROOF = 0x08
TREE_PROOF = 0x09
HELLO = 0x81
REGISTERED = 0x82
LOGGED_IN = 0x83
LOGGED_OUT = 0x84
TRANSFERRED = 0x85
BALANCE_REPORT = 0x86
HISTORY_PAGE = 0x87
PASSWORD_CHANGED = 0x88
INCLUSION_PROOF = 0x89
TREE_PROOFS = 0x8A
ERROR = 0xFF

# History entry kinds (field 2 of a history entry).
KIND_TRANSFER = 1
KIND_DEPOSIT = 2
KIND_NAMES = {KIND_TRANSFER: "transfer", KIND_DEPOSIT: "deposit"}

# Domain separation strings (ASCII, no terminator).
MAC_CONTEXT = b"integra/1 frame"
PRELOGIN_SALT = b"integra/1 prelogin"
PRELOGIN_INFO_C2S = b"integra/1 prelogin c2s"
PRELOGIN_INFO_S2C = b"integra/1 prelogin s2c"
SESSION_INFO_C2S = b"integra/1 session c2s"
SESSION_INFO_S2C = b"integra/1 session s2c"
TRANSCRIPT_CONTEXT = b"integra/1 login transcript"
SIGNATURE_CONTEXT = b"integra/1 login signature"

# ---------------------------------------------------------------------------------------------
# Fixed inputs. Recognisable, arbitrary, and NOT secret: never use them outside test vectors.
# ---------------------------------------------------------------------------------------------

CLIENT_KEY = bytes(range(0, 32))                  # 00 01 .. 1f: the deployment's client key
SERVER_IDENTITY_SEED = bytes(range(32, 64))       # 20 21 .. 3f: Ed25519 private key (seed)
CLIENT_EPHEMERAL_PRIVATE = bytes(range(64, 96))   # 40 41 .. 5f: X25519 private key, client
SERVER_EPHEMERAL_PRIVATE = bytes(range(96, 128))  # 60 61 .. 7f: X25519 private key, server
CONNECTION_ID = bytes(range(128, 144))            # 80 81 .. 8f: chosen by the server
REPLAY_WINDOW_MS = 120_000
# The device token the server gives at login (logged_in field 5). Opaque to the client, which keeps
# it and presents it unchanged at its next login of the account (login field 4).
DEVICE_TOKEN = bytes([0x01]) + bytes(range(144, 184))  # 01 90 91 .. b7: 41 bytes

# 2026-01-01T00:00:00Z in milliseconds since the Unix epoch. Frame timestamps count from here.
BASE_TIME_MS = 1_767_225_600_000

USERNAME = "alice"
PASSWORD = "correct horse battery"
NEW_PASSWORD = "correct horse battery staple"
TRANSFER_ID = "7f0c2a8e-demo"


def fixed_nonce(frame_number: int) -> bytes:
    """The nonce of the n-th frame of the conversation (1-based): 16 times the byte n.

    A real peer takes 16 fresh bytes from a CSPRNG for every frame it sends.
    """
    return bytes([frame_number]) * NONCE_BYTES


# ---------------------------------------------------------------------------------------------
# Field (TLV) encoding: tag (UInt8) | length (UInt16 big-endian) | value
# ---------------------------------------------------------------------------------------------

def field(tag: int, value: bytes) -> bytes:
    """One field. A value holds at most 65535 bytes."""
    if not 0 <= tag <= 0xFF:
        raise ValueError("a tag is one byte")
    if len(value) > 0xFFFF:
        raise ValueError("a field holds at most 65535 bytes")
    return struct.pack(">BH", tag, len(value)) + value


def string_field(tag: int, text: str) -> bytes:
    """A UTF-8 string, sent as is (no terminator, no normalisation)."""
    return field(tag, text.encode("utf-8"))


def u8_field(tag: int, value: int) -> bytes:
    return field(tag, struct.pack(">B", value))


def u16_field(tag: int, value: int) -> bytes:
    return field(tag, struct.pack(">H", value))


def u64_field(tag: int, value: int) -> bytes:
    return field(tag, struct.pack(">Q", value))


def i64_field(tag: int, value: int) -> bytes:
    """A signed 64-bit integer, two's complement, big-endian."""
    return field(tag, struct.pack(">q", value))


def parse_fields(body: bytes) -> dict[int, bytes]:
    """Splits a body into fields, strictly: a truncated field or a repeated tag is an error."""
    fields: dict[int, bytes] = {}
    offset = 0
    while offset < len(body):
        if offset + 3 > len(body):
            raise ValueError("a field is truncated")
        tag, length = struct.unpack_from(">BH", body, offset)
        offset += 3
        if offset + length > len(body):
            raise ValueError("a field is truncated")
        if tag in fields:
            raise ValueError(f"field {tag} appears twice")
        fields[tag] = body[offset:offset + length]
        offset += length
    return fields


class FieldReader:
    """Reads the fields of one body the way the server does: every field must be read exactly
    once with the right type, and `finish` rejects any field left over."""

    def __init__(self, body: bytes) -> None:
        self.fields = parse_fields(body)

    def _take(self, tag: int) -> bytes:
        if tag not in self.fields:
            raise ValueError(f"field {tag} is missing")
        return self.fields.pop(tag)

    def has(self, tag: int) -> bool:
        return tag in self.fields

    def string(self, tag: int, maximum_bytes: int) -> str:
        value = self._take(tag)
        if len(value) > maximum_bytes:
            raise ValueError(f"field {tag} is longer than {maximum_bytes} bytes")
        return value.decode("utf-8")  # raises on invalid UTF-8

    def fixed_bytes(self, tag: int, count: int) -> bytes:
        value = self._take(tag)
        if len(value) != count:
            raise ValueError(f"field {tag} must have {count} bytes")
        return value

    def raw(self, tag: int, maximum_bytes: int) -> bytes:
        value = self._take(tag)
        if len(value) > maximum_bytes:
            raise ValueError(f"field {tag} is longer than {maximum_bytes} bytes")
        return value

    def integer(self, tag: int, fmt: str) -> int:
        """A big-endian integer whose field has exactly the integer's width."""
        value = self._take(tag)
        if len(value) != struct.calcsize(fmt):
            raise ValueError(f"field {tag} must be a {struct.calcsize(fmt)}-byte integer")
        return struct.unpack(fmt, value)[0]

    def optional_integer(self, tag: int, fmt: str) -> int | None:
        return self.integer(tag, fmt) if self.has(tag) else None

    def optional_hex(self, tag: int, minimum_bytes: int, maximum_bytes: int) -> str | None:
        """An optional byte field as hex, or None when absent."""
        if not self.has(tag):
            return None
        value = self.raw(tag, maximum_bytes)
        if len(value) < minimum_bytes:
            raise ValueError(f"field {tag} is shorter than {minimum_bytes} bytes")
        return value.hex()

    def finish(self) -> None:
        if self.fields:
            raise ValueError(f"field {min(self.fields)} is not expected here")


# Decoding limits on field sizes (bytes), checked before any domain validation.
USERNAME_BYTES = 200
PASSWORD_BYTES = 256
TRANSFER_ID_BYTES = 128
AMOUNT_BYTES = 64
ERROR_MESSAGE_BYTES = 1024
PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64
DEVICE_TOKEN_BYTES = 256
HISTORY_PAGE_ENTRIES = 100

# ---------------------------------------------------------------------------------------------
# Message bodies. Fields are written in ascending tag order, which is the order the server
# writes them; readers accept any order.
# ---------------------------------------------------------------------------------------------

# Client messages ----------------------------------------------------------------------------

def register_body(username: str, password: str) -> bytes:
    return string_field(1, username) + string_field(2, password)


def login_body(username: str, password: str, ephemeral_public_key: bytes, device_token: bytes | None = None) -> bytes:
    body = string_field(1, username) + string_field(2, password) + field(3, ephemeral_public_key)
    return body + (field(4, device_token) if device_token is not None else b"")


def empty_body() -> bytes:
    """logout, balance, logged_out and password_changed carry no fields."""
    return b""


def transfer_body(transfer_id: str, recipient: str, amount: str) -> bytes:
    return string_field(1, transfer_id) + string_field(2, recipient) + string_field(3, amount)


def history_body(before_position: int | None, limit: int) -> bytes:
    """Field 1 (before_position, UInt64) is present only when paging back."""
    body = b""
    if before_position is not None:
        body += u64_field(1, before_position)
    return body + u16_field(2, limit)


def proof_body(position: int) -> bytes:
    return u64_field(1, position)


def inclusion_proof_body(p: dict) -> bytes:
    return (u64_field(1, p["position"]) + field(2, bytes.fromhex(p["digests"]))
            + u64_field(3, p["checkpoint_position"]) + field(4, bytes.fromhex(p["checkpoint_chain_hash"]))
            + i64_field(5, p["checkpoint_created_at_ms"]) + field(6, bytes.fromhex(p["checkpoint_signature"]))
            + field(7, bytes.fromhex(p["entry"])) + field(8, bytes.fromhex(p["previous_chain_hash"])))


def tree_proof_body(position: int | None, from_tree_size: int | None) -> bytes:
    return (u64_field(1, position) if position is not None else b"") + (u64_field(2, from_tree_size) if from_tree_size is not None else b"")


def tree_proofs_body(p: dict) -> bytes:
    """Fields left out when empty: entry, inclusion path, from_tree_size (0), consistency path."""
    body = field(1, p["tree_head"].encode("utf-8"))
    if p["entry"]:
        body += field(2, bytes.fromhex(p["entry"]))
    if p["inclusion_path"]:
        body += field(3, b"".join(bytes.fromhex(h) for h in p["inclusion_path"]))
    if p["from_tree_size"]:
        body += u64_field(4, p["from_tree_size"])
    if p["consistency_path"]:
        body += field(5, b"".join(bytes.fromhex(h) for h in p["consistency_path"]))
    return body


# The transparency log (docs/LEDGER-INTEGRITY.md): RFC 9162 hashes, and the C2SP checkpoint the
# identity key signs, under the origin "integra/" + hex(SHA-256(identity public key)[:8]).

def leaf_hash(encoding: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + encoding).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def tree_origin(identity_public: bytes) -> str:
    return "integra/" + hashlib.sha256(identity_public).digest()[:8].hex()


def signed_tree_head(identity: Ed25519PrivateKey, identity_public: bytes, size: int, root: bytes) -> str:
    origin = tree_origin(identity_public)
    text = f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"
    key_id = hashlib.sha256(origin.encode() + b"\n" + b"\x01" + identity_public).digest()[:4]
    signature = identity.sign(text.encode())
    return text + "\n" + f"\u2014 {origin} {base64.b64encode(key_id + signature).decode()}\n"


def split_hashes(raw: bytes, field_number: int) -> list[str]:
    if len(raw) % 32:
        raise ValueError(f"field {field_number} must hold 32-byte hashes")
    return [raw[i:i + 32].hex() for i in range(0, len(raw), 32)]


def entry_encoding(e: dict) -> bytes:
    """The canonical encoding of a ledger entry (docs/LEDGER-INTEGRITY.md)."""
    def text(value: str) -> bytes:
        raw = value.encode("utf-8")
        return struct.pack(">H", len(raw)) + raw
    return (b"integra/1 entry" + struct.pack(">qq", e["position"], e["kind"]) + text(e["transfer_id"])
            + struct.pack(">q", e["from_user_id"]) + text(e["from_name"]) + struct.pack(">q", e["to_user_id"]) + text(e["to_name"])
            + struct.pack(">qqqq", e["amount_cents"], e["from_balance_after_cents"], e["to_balance_after_cents"], e["created_at_ms"]))


def chain_link(previous: bytes, encoding: bytes) -> bytes:
    """chain(n) = SHA-256(chain(n-1) || SHA-256(encoding of entry n))."""
    return hashlib.sha256(previous + hashlib.sha256(encoding).digest()).digest()


def checkpoint_payload(position: int, chain_hash: bytes, created_at_ms: int) -> bytes:
    """What the server signs for a checkpoint: entry `position` has chain hash `chain_hash`."""
    return b"integra/1 checkpoint" + struct.pack(">q", position) + chain_hash + struct.pack(">q", created_at_ms)


def change_password_body(current_password: str, new_password: str) -> bytes:
    return string_field(1, current_password) + string_field(2, new_password)


# Server messages ----------------------------------------------------------------------------

def hello_body(connection_id: bytes, replay_window_ms: int) -> bytes:
    return field(1, connection_id) + u64_field(2, replay_window_ms)


def registered_body(username: str) -> bytes:
    return string_field(1, username)


def logged_in_body(username: str, balance: str, ephemeral_public_key: bytes, signature: bytes,
                   device_token: bytes | None = None) -> bytes:
    return (string_field(1, username) + string_field(2, balance)
            + field(3, ephemeral_public_key) + field(4, signature)
            + (field(5, device_token) if device_token is not None else b""))


def transferred_body(c: dict) -> bytes:
    return (string_field(1, c["transfer_id"]) + u64_field(2, c["position"])
            + string_field(3, c["sender"]) + string_field(4, c["recipient"])
            + string_field(5, c["amount"]) + string_field(6, c["balance_after"])
            + i64_field(7, c["created_at_ms"]) + u8_field(8, 1 if c["is_retry"] else 0)
            + field(9, bytes.fromhex(c["chain_hash"])) + field(10, bytes.fromhex(c["signature"])))


def receipt_payload(c: dict) -> bytes:
    """What the server signs for a transfer receipt: every confirmation field but is_retry,
    strings as u16 length + UTF-8 as on the wire, integers big-endian, then the chain hash."""
    def text(value: str) -> bytes:
        data = value.encode("utf-8")
        return struct.pack(">H", len(data)) + data
    return (b"integra/1 receipt" + text(c["transfer_id"]) + struct.pack(">Q", c["position"])
            + text(c["sender"]) + text(c["recipient"]) + text(c["amount"]) + text(c["balance_after"])
            + struct.pack(">q", c["created_at_ms"]) + bytes.fromhex(c["chain_hash"]))


def balance_report_body(username: str, balance: str) -> bytes:
    return string_field(1, username) + string_field(2, balance)


def history_entry_fields(e: dict) -> bytes:
    return (u64_field(1, e["position"]) + u8_field(2, e["kind"])
            + string_field(3, e["transfer_id"]) + string_field(4, e["sender"])
            + string_field(5, e["recipient"]) + string_field(6, e["amount"])
            + string_field(7, e["balance_after"]) + i64_field(8, e["created_at_ms"]))


def history_page_body(entries: list[dict], next_before: int | None) -> bytes:
    """Field 1 is always present (possibly empty): the concatenation of one nested field per
    entry, each with tag 1, newest first. Field 2 (UInt64) is present only if older entries exist."""
    entry_list = b"".join(field(1, history_entry_fields(e)) for e in entries)
    body = field(1, entry_list)
    if next_before is not None:
        body += u64_field(2, next_before)
    return body


def error_body(code: int, message: str) -> bytes:
    return u16_field(1, code) + string_field(2, message)


# Decoders, used here to check every vector the way a receiver would read it -----------------

def decode_body(message_type: int, body: bytes) -> dict:
    """Decodes a body into the human-readable form stored under "fields" in the vectors."""
    r = FieldReader(body)
    if message_type == REGISTER:
        out = {"username": r.string(1, USERNAME_BYTES), "password": r.string(2, PASSWORD_BYTES)}
    elif message_type == LOGIN:
        out = {"username": r.string(1, USERNAME_BYTES), "password": r.string(2, PASSWORD_BYTES),
               "ephemeral_public_key": r.fixed_bytes(3, PUBLIC_KEY_BYTES).hex(),
               "device_token": r.optional_hex(4, 1, DEVICE_TOKEN_BYTES)}
    elif message_type in (LOGOUT, BALANCE, LOGGED_OUT, PASSWORD_CHANGED):
        out = {}
    elif message_type == TRANSFER:
        out = {"transfer_id": r.string(1, TRANSFER_ID_BYTES), "recipient": r.string(2, USERNAME_BYTES),
               "amount": r.string(3, AMOUNT_BYTES)}
    elif message_type == HISTORY:
        out = {"before_position": r.optional_integer(1, ">Q"), "limit": r.integer(2, ">H")}
        if not 1 <= out["limit"] <= HISTORY_PAGE_ENTRIES:
            raise ValueError("history limit must be 1 to 100")
    elif message_type == PROOF:
        out = {"position": r.integer(1, ">Q")}
    elif message_type == INCLUSION_PROOF:
        digests = r.raw(2, 1900 * 32)
        if len(digests) % 32:
            raise ValueError("field 2 must hold 32-byte digests")
        out = {"position": r.integer(1, ">Q"), "digests": digests.hex(),
               "checkpoint_position": r.integer(3, ">Q"), "checkpoint_chain_hash": r.fixed_bytes(4, 32).hex(),
               "checkpoint_created_at_ms": r.integer(5, ">q"), "checkpoint_signature": r.fixed_bytes(6, SIGNATURE_BYTES).hex(),
               "entry": r.raw(7, 4096).hex(), "previous_chain_hash": r.fixed_bytes(8, 32).hex()}
    elif message_type == TREE_PROOF:
        out = {"position": r.optional_integer(1, ">Q"), "from_tree_size": r.optional_integer(2, ">Q")}
    elif message_type == TREE_PROOFS:
        out = {"tree_head": r.raw(1, 8192).decode("utf-8"), "entry": (r.optional_hex(2, 1, 4096) or ""),
               "inclusion_path": split_hashes(bytes.fromhex(r.optional_hex(3, 32, 65 * 32) or ""), 3),
               "from_tree_size": r.optional_integer(4, ">Q") or 0,
               "consistency_path": split_hashes(bytes.fromhex(r.optional_hex(5, 32, 65 * 32) or ""), 5)}
    elif message_type == CHANGE_PASSWORD:
        out = {"current_password": r.string(1, PASSWORD_BYTES), "new_password": r.string(2, PASSWORD_BYTES)}
    elif message_type == HELLO:
        out = {"connection_id": r.fixed_bytes(1, 16).hex(), "replay_window_ms": r.integer(2, ">Q")}
    elif message_type == REGISTERED:
        out = {"username": r.string(1, USERNAME_BYTES)}
    elif message_type == LOGGED_IN:
        out = {"username": r.string(1, USERNAME_BYTES), "balance": r.string(2, AMOUNT_BYTES),
               "ephemeral_public_key": r.fixed_bytes(3, PUBLIC_KEY_BYTES).hex(),
               "signature": r.fixed_bytes(4, SIGNATURE_BYTES).hex(),
               "device_token": r.optional_hex(5, 1, DEVICE_TOKEN_BYTES)}
    elif message_type == TRANSFERRED:
        out = decode_confirmation(r)
    elif message_type == BALANCE_REPORT:
        out = {"username": r.string(1, USERNAME_BYTES), "balance": r.string(2, AMOUNT_BYTES)}
    elif message_type == HISTORY_PAGE:
        entry_list = r.raw(1, 0xFFFF)
        out = {"entries": decode_history_entries(entry_list), "next_before": r.optional_integer(2, ">Q")}
    elif message_type == ERROR:
        out = {"code": r.integer(1, ">H"), "message": r.string(2, ERROR_MESSAGE_BYTES)}
    else:
        raise ValueError(f"unknown message type {message_type}")
    r.finish()
    return out


def decode_confirmation(r: FieldReader) -> dict:
    retry = r.integer(8, ">B")
    if retry > 1:
        raise ValueError("field 8 must be 0 or 1")
    return {"transfer_id": r.string(1, TRANSFER_ID_BYTES), "position": r.integer(2, ">Q"),
            "sender": r.string(3, USERNAME_BYTES), "recipient": r.string(4, USERNAME_BYTES),
            "amount": r.string(5, AMOUNT_BYTES), "balance_after": r.string(6, AMOUNT_BYTES),
            "created_at_ms": r.integer(7, ">q"), "is_retry": retry == 1,
            "chain_hash": r.fixed_bytes(9, 32).hex(), "signature": r.fixed_bytes(10, SIGNATURE_BYTES).hex()}


def decode_history_entries(entry_list: bytes) -> list[dict]:
    entries = []
    offset = 0
    while offset < len(entry_list):
        if len(entries) >= HISTORY_PAGE_ENTRIES:
            raise ValueError("history page holds too many entries")
        if offset + 3 > len(entry_list):
            raise ValueError("history entry is truncated")
        tag, length = struct.unpack_from(">BH", entry_list, offset)
        offset += 3
        if tag != 1 or offset + length > len(entry_list):
            raise ValueError("history entry is truncated")
        r = FieldReader(entry_list[offset:offset + length])
        offset += length
        kind = r.integer(2, ">B")
        if kind not in KIND_NAMES:
            raise ValueError("unknown history entry kind")
        entries.append({"position": r.integer(1, ">Q"), "kind": KIND_NAMES[kind],
                        "transfer_id": r.string(3, TRANSFER_ID_BYTES), "sender": r.string(4, USERNAME_BYTES),
                        "recipient": r.string(5, USERNAME_BYTES), "amount": r.string(6, AMOUNT_BYTES),
                        "balance_after": r.string(7, AMOUNT_BYTES), "created_at_ms": r.integer(8, ">q")})
        r.finish()
    return entries


# ---------------------------------------------------------------------------------------------
# Frames
#
#   offset size field
#        0    4 length      UInt32 BE: bytes after this field (header rest + body + mac)
#        4    1 version     1
#        5    1 type        message type
#        6    1 direction   1 = client to server, 2 = server to client
#        7    1 flags       0
#        8    8 sequence    UInt64 BE, per direction, starting at 0
#       16    8 timestamp   Int64 BE, milliseconds since the Unix epoch
#       24   16 nonce       random
#       40    n body        fields
#     40+n   32 mac         HMAC-SHA256
# ---------------------------------------------------------------------------------------------

def frame_mac(key: bytes, connection_id: bytes, signed_bytes: bytes) -> bytes:
    """HMAC-SHA256(key, "integra/1 frame" || connection id || every frame byte before the MAC).

    The signed bytes start with the length prefix."""
    return hmac.new(key, MAC_CONTEXT + connection_id + signed_bytes, hashlib.sha256).digest()


def seal_frame(*, key: bytes, connection_id: bytes, message_type: int, direction: int,
               sequence: int, timestamp_ms: int, nonce: bytes, body: bytes) -> bytes:
    """Builds a complete frame: length prefix, header, body, MAC."""
    if len(nonce) != NONCE_BYTES:
        raise ValueError("a nonce has 16 bytes")
    length = (HEADER_BYTES - LENGTH_FIELD_BYTES) + len(body) + MAC_BYTES
    signed = struct.pack(">IBBBBQq", length, PROTOCOL_VERSION, message_type, direction, 0,
                         sequence, timestamp_ms) + nonce + body
    return signed + frame_mac(key, connection_id, signed)


def split_frame(frame: bytes) -> dict:
    """Splits a frame into its parts. Checks sizes only: nothing is authenticated yet."""
    if len(frame) < MINIMUM_FRAME_BYTES:
        raise ValueError("frame is truncated")
    length, version, message_type, direction, flags, sequence, timestamp_ms = struct.unpack_from(">IBBBBQq", frame, 0)
    if length != len(frame) - LENGTH_FIELD_BYTES:
        raise ValueError("the length field is wrong")
    return {"version": version, "type": message_type, "direction": direction, "flags": flags,
            "sequence": sequence, "timestamp_ms": timestamp_ms, "nonce": frame[24:40],
            "body": frame[40:-MAC_BYTES], "mac": frame[-MAC_BYTES:]}


def open_frame(frame: bytes, *, key: bytes, connection_id: bytes, direction: int,
               expected_sequence: int, now_ms: int, replay_window_ms: int) -> dict:
    """Authenticates a received frame in the order the protocol prescribes:
    version, MAC (constant time), direction and flags, sequence, timestamp."""
    parts = split_frame(frame)
    if parts["version"] != PROTOCOL_VERSION:
        raise ValueError("unsupported_version")
    expected_mac = frame_mac(key, connection_id, frame[:-MAC_BYTES])
    if not hmac.compare_digest(expected_mac, parts["mac"]):
        raise ValueError("authentication_failed")
    if parts["direction"] != direction or parts["flags"] != 0:
        raise ValueError("authentication_failed")
    if parts["sequence"] != expected_sequence:
        raise ValueError("replay_detected" if parts["sequence"] < expected_sequence else "out_of_order")
    if abs(parts["timestamp_ms"] - now_ms) > replay_window_ms:
        raise ValueError("stale_timestamp")
    return parts


# ---------------------------------------------------------------------------------------------
# Key schedule
# ---------------------------------------------------------------------------------------------

def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int = 32) -> bytes:
    """HKDF-SHA256 (RFC 5869), written out so it is easy to port."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()            # extract
    okm, block, counter = b"", b"", 1
    while len(okm) < length:                                      # expand
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
        counter += 1
    return okm[:length]


def prelogin_keys(client_key: bytes) -> tuple[bytes, bytes]:
    """(c2s, s2c) MAC keys for frames before login, from the deployment's client key."""
    if len(client_key) < 32:
        raise ValueError("the client key has at least 32 bytes")
    return (hkdf_sha256(client_key, PRELOGIN_SALT, PRELOGIN_INFO_C2S),
            hkdf_sha256(client_key, PRELOGIN_SALT, PRELOGIN_INFO_S2C))


def transcript_hash(hello_frame: bytes, login_frame: bytes, server_ephemeral_public: bytes) -> bytes:
    """SHA-256("integra/1 login transcript" || u32(len hello) || hello || u32(len login) || login
    || server ephemeral public key). The frames are the exact bytes on the wire, length prefix
    included."""
    h = hashlib.sha256(TRANSCRIPT_CONTEXT)
    for frame in (hello_frame, login_frame):
        h.update(struct.pack(">I", len(frame)))
        h.update(frame)
    h.update(server_ephemeral_public)
    return h.digest()


def signature_payload(transcript: bytes) -> bytes:
    """What the server signs with its Ed25519 identity key at login."""
    return SIGNATURE_CONTEXT + transcript


def session_keys(shared_secret: bytes, transcript: bytes) -> tuple[bytes, bytes]:
    """(c2s, s2c) MAC keys after login: HKDF-SHA256 of the X25519 shared secret, salted with the
    transcript hash."""
    return (hkdf_sha256(shared_secret, transcript, SESSION_INFO_C2S),
            hkdf_sha256(shared_secret, transcript, SESSION_INFO_S2C))


def x25519_public(private: bytes) -> bytes:
    return X25519PrivateKey.from_private_bytes(private).public_key().public_bytes_raw()


def x25519_shared(private: bytes, peer_public: bytes) -> bytes:
    return X25519PrivateKey.from_private_bytes(private).exchange(X25519PublicKey.from_public_bytes(peer_public))


# ---------------------------------------------------------------------------------------------
# The conversation
# ---------------------------------------------------------------------------------------------

class Connection:
    """Both ends of one connection: keys of the current phase, per-direction sequence numbers."""

    def __init__(self, connection_id: bytes, keys: tuple[bytes, bytes], key_names: tuple[str, str]) -> None:
        self.connection_id = connection_id
        self.keys = {DIRECTION_C2S: keys[0], DIRECTION_S2C: keys[1]}
        self.key_names = {DIRECTION_C2S: key_names[0], DIRECTION_S2C: key_names[1]}
        self.next_sequence = {DIRECTION_C2S: 0, DIRECTION_S2C: 0}
        self.frames: list[dict] = []
        self.frame_number = 0
        self.now_ms = BASE_TIME_MS

    def rekey(self, direction: int, key: bytes, key_name: str) -> None:
        """Switches one direction to new keys. Sequence numbers continue."""
        self.keys[direction] = key
        self.key_names[direction] = key_name

    def send(self, name: str, direction: int, message_type: int, body: bytes, fields: dict, after_ms: int) -> bytes:
        self.frame_number += 1
        self.now_ms += after_ms
        sequence = self.next_sequence[direction]
        self.next_sequence[direction] += 1
        nonce = fixed_nonce(self.frame_number)
        frame = seal_frame(key=self.keys[direction], connection_id=self.connection_id,
                           message_type=message_type, direction=direction, sequence=sequence,
                           timestamp_ms=self.now_ms, nonce=nonce, body=body)
        # Check the frame the way the receiver does, and that its body reads back as `fields`.
        parts = open_frame(frame, key=self.keys[direction], connection_id=self.connection_id,
                           direction=direction, expected_sequence=sequence, now_ms=self.now_ms,
                           replay_window_ms=REPLAY_WINDOW_MS)
        assert parts["body"] == body and decode_body(message_type, body) == fields, name
        self.frames.append({
            "name": name,
            "direction": "c2s" if direction == DIRECTION_C2S else "s2c",
            "key": self.key_names[direction],
            "type": message_type,
            "sequence": sequence,
            "timestamp_ms": self.now_ms,
            "nonce": nonce.hex(),
            "body": body.hex(),
            "mac": parts["mac"].hex(),
            "frame": frame.hex(),
            "fields": fields,
        })
        return frame


def build_vectors() -> dict:
    c2s_prelogin, s2c_prelogin = prelogin_keys(CLIENT_KEY)
    identity = Ed25519PrivateKey.from_private_bytes(SERVER_IDENTITY_SEED)
    identity_public = identity.public_key().public_bytes_raw()
    client_ephemeral_public = x25519_public(CLIENT_EPHEMERAL_PRIVATE)
    server_ephemeral_public = x25519_public(SERVER_EPHEMERAL_PRIVATE)

    conn = Connection(CONNECTION_ID, (c2s_prelogin, s2c_prelogin), ("prelogin_c2s", "prelogin_s2c"))
    C, S = DIRECTION_C2S, DIRECTION_S2C

    def send(name: str, direction: int, message_type: int, body: bytes, fields: dict, after_ms: int) -> bytes:
        return conn.send(name, direction, message_type, body, fields, after_ms)

    # 1. The server greets the client with the connection id, under the pre-login s2c key.
    hello = send("hello", S, HELLO, hello_body(CONNECTION_ID, REPLAY_WINDOW_MS),
                 {"connection_id": CONNECTION_ID.hex(), "replay_window_ms": REPLAY_WINDOW_MS}, 0)

    # 2. Registration (does not log in).
    send("register", C, REGISTER, register_body(USERNAME, PASSWORD),
         {"username": USERNAME, "password": PASSWORD}, 40)
    send("registered", S, REGISTERED, registered_body(USERNAME), {"username": USERNAME}, 260)

    # An operator deposits 1000.00 into alice's account (ledger position 1) before she logs in.
    deposit_created_at_ms = conn.now_ms + 30_000

    # 3. Login: the client's ephemeral X25519 key travels in the login frame.
    login = send("login", C, LOGIN, login_body(USERNAME, PASSWORD, client_ephemeral_public),
                 {"username": USERNAME, "password": PASSWORD,
                  "ephemeral_public_key": client_ephemeral_public.hex(), "device_token": None}, 60_000)

    # The server checks the password, then runs its half of the handshake.
    transcript = transcript_hash(hello, login, server_ephemeral_public)
    signature = identity.sign(signature_payload(transcript))  # Ed25519 is deterministic
    shared_server = x25519_shared(SERVER_EPHEMERAL_PRIVATE, client_ephemeral_public)
    c2s_session, s2c_session = session_keys(shared_server, transcript)

    # logged_in is already sealed with the SESSION s2c key.
    conn.rekey(S, s2c_session, "session_s2c")
    logged_in = send("logged_in", S, LOGGED_IN,
                     logged_in_body(USERNAME, "1000.00", server_ephemeral_public, signature, DEVICE_TOKEN),
                     {"username": USERNAME, "balance": "1000.00",
                      "ephemeral_public_key": server_ephemeral_public.hex(), "signature": signature.hex(),
                      "device_token": DEVICE_TOKEN.hex()}, 250)

    # The client's half: decode logged_in, verify the signature against the pinned identity key,
    # derive the same session keys, then authenticate the frame under the session s2c key.
    client_view = decode_body(LOGGED_IN, split_frame(logged_in)["body"])
    server_ephemeral_seen = bytes.fromhex(client_view["ephemeral_public_key"])
    client_transcript = transcript_hash(hello, login, server_ephemeral_seen)
    Ed25519PublicKey.from_public_bytes(identity_public).verify(
        bytes.fromhex(client_view["signature"]), signature_payload(client_transcript))  # raises if invalid
    shared_client = x25519_shared(CLIENT_EPHEMERAL_PRIVATE, server_ephemeral_seen)
    assert shared_client == shared_server
    assert session_keys(shared_client, client_transcript) == (c2s_session, s2c_session)
    conn.rekey(C, c2s_session, "session_c2s")

    # 4. Requests in the session.
    transfer_fields = {"transfer_id": TRANSFER_ID, "recipient": "bob", "amount": "100.50"}
    send("transfer", C, TRANSFER, transfer_body(TRANSFER_ID, "bob", "100.50"), transfer_fields, 5_000)
    transfer_created_at_ms = conn.now_ms + 3
    # The ledger so far: entry 1 deposits 1000.00 from the system account (user 0) to alice
    # (user 1); entry 2 is this transfer to bob (user 2). Their chain is computed for real, so a
    # proof can show entry 2 and the client can recompute its chain hash.
    deposit_entry = {"position": 1, "kind": KIND_DEPOSIT, "transfer_id": "demo-alice", "from_user_id": 0, "from_name": "system",
                     "to_user_id": 1, "to_name": USERNAME, "amount_cents": 100_000, "from_balance_after_cents": -100_000,
                     "to_balance_after_cents": 100_000, "created_at_ms": deposit_created_at_ms}
    transfer_entry = {"position": 2, "kind": KIND_TRANSFER, "transfer_id": TRANSFER_ID, "from_user_id": 1, "from_name": USERNAME,
                      "to_user_id": 2, "to_name": "bob", "amount_cents": 10_050, "from_balance_after_cents": 89_950,
                      "to_balance_after_cents": 10_050, "created_at_ms": transfer_created_at_ms}
    chain_1 = chain_link(bytes(32), entry_encoding(deposit_entry))
    chain_2 = chain_link(chain_1, entry_encoding(transfer_entry))
    confirmation = {"transfer_id": TRANSFER_ID, "position": 2, "sender": USERNAME, "recipient": "bob",
                    "amount": "100.50", "balance_after": "899.50", "created_at_ms": transfer_created_at_ms,
                    "is_retry": False, "chain_hash": chain_2.hex()}
    # The receipt: Ed25519 by the identity key over receipt_payload (deterministic, RFC 8032).
    confirmation["signature"] = identity.sign(receipt_payload(confirmation)).hex()
    send("transferred", S, TRANSFERRED, transferred_body(confirmation), confirmation, 5)

    send("balance", C, BALANCE, empty_body(), {}, 2_000)
    send("balance_report", S, BALANCE_REPORT, balance_report_body(USERNAME, "899.50"),
         {"username": USERNAME, "balance": "899.50"}, 2)

    send("history", C, HISTORY, history_body(None, 50), {"before_position": None, "limit": 50}, 2_000)
    entries = [
        {"position": 2, "kind": KIND_TRANSFER, "transfer_id": TRANSFER_ID, "sender": USERNAME,
         "recipient": "bob", "amount": "100.50", "balance_after": "899.50",
         "created_at_ms": transfer_created_at_ms},
        {"position": 1, "kind": KIND_DEPOSIT, "transfer_id": "demo-alice", "sender": "system",
         "recipient": USERNAME, "amount": "1000.00", "balance_after": "1000.00",
         "created_at_ms": deposit_created_at_ms},
    ]
    readable_entries = [dict(e, kind=KIND_NAMES[e["kind"]]) for e in entries]
    send("history_page", S, HISTORY_PAGE, history_page_body(entries, None),
         {"entries": readable_entries, "next_before": None}, 3)

    # The receipt's entry is the ledger's head here: the proof has no digests, and the checkpoint
    # the server signs on demand names the receipt's own chain hash.
    send("proof", C, PROOF, proof_body(2), {"position": 2}, 2_000)
    proof_created_at_ms = conn.now_ms + 1
    proof = {"position": 2, "digests": "", "checkpoint_position": 2,
             "checkpoint_chain_hash": confirmation["chain_hash"], "checkpoint_created_at_ms": proof_created_at_ms}
    proof["checkpoint_signature"] = identity.sign(
        checkpoint_payload(2, bytes.fromhex(confirmation["chain_hash"]), proof_created_at_ms)).hex()
    proof["entry"] = entry_encoding(transfer_entry).hex()
    proof["previous_chain_hash"] = chain_1.hex()
    send("inclusion_proof", S, INCLUSION_PROOF, inclusion_proof_body(proof), proof, 2)

    # The transparency log: the server's current signed tree head over entries 1 and 2, the
    # inclusion proof of entry 2 in it, and the consistency proof from the tree of entry 1.
    send("tree_proof", C, TREE_PROOF, tree_proof_body(2, 1), {"position": 2, "from_tree_size": 1}, 1_000)
    leaf_1, leaf_2 = leaf_hash(entry_encoding(deposit_entry)), leaf_hash(entry_encoding(transfer_entry))
    root_2 = node_hash(leaf_1, leaf_2)
    tree_proofs = {"tree_head": signed_tree_head(identity, identity_public, 2, root_2), "entry": entry_encoding(transfer_entry).hex(),
                   "inclusion_path": [leaf_1.hex()], "from_tree_size": 1, "consistency_path": [leaf_2.hex()]}
    send("tree_proofs", S, TREE_PROOFS, tree_proofs_body(tree_proofs), tree_proofs, 2)

    send("change_password", C, CHANGE_PASSWORD, change_password_body(PASSWORD, NEW_PASSWORD),
         {"current_password": PASSWORD, "new_password": NEW_PASSWORD}, 10_000)
    send("password_changed", S, PASSWORD_CHANGED, empty_body(), {}, 480)

    # A transfer the ledger refuses: every reply answers a request, an error included.
    over_fields = {"transfer_id": "7f0c2a8e-demo-2", "recipient": "bob", "amount": "5000.00"}
    send("transfer_insufficient", C, TRANSFER, transfer_body("7f0c2a8e-demo-2", "bob", "5000.00"), over_fields, 4_000)
    send("error", S, ERROR, error_body(301, "insufficient funds"),
         {"code": 301, "message": "insufficient funds"}, 4)

    # 5. Logout; the server closes the connection after logged_out.
    send("logout", C, LOGOUT, empty_body(), {}, 1_000)
    send("logged_out", S, LOGGED_OUT, empty_body(), {}, 2)

    return {
        "version": 1,
        "description": ("One Integra protocol version 1 conversation on one connection (hello, register, "
                        "login handshake, session requests, logout), computed from the fixed inputs in "
                        "scripts/protocol-vectors.py."),
        "keys": {
            "client_key": CLIENT_KEY.hex(),
            "prelogin_c2s": c2s_prelogin.hex(),
            "prelogin_s2c": s2c_prelogin.hex(),
            "server_identity_seed": SERVER_IDENTITY_SEED.hex(),
            "server_identity_public": identity_public.hex(),
            "client_ephemeral_private": CLIENT_EPHEMERAL_PRIVATE.hex(),
            "client_ephemeral_public": client_ephemeral_public.hex(),
            "server_ephemeral_private": SERVER_EPHEMERAL_PRIVATE.hex(),
            "server_ephemeral_public": server_ephemeral_public.hex(),
            "shared_secret": shared_server.hex(),
            "transcript_hash": transcript.hex(),
            "login_signature": signature.hex(),
            "session_c2s": c2s_session.hex(),
            "session_s2c": s2c_session.hex(),
        },
        "connection_id": CONNECTION_ID.hex(),
        "frames": conn.frames,
    }


def self_test() -> None:
    """Cross-checks the hand-written HKDF against the `cryptography` package."""
    for ikm, salt, info in ((CLIENT_KEY, PRELOGIN_SALT, PRELOGIN_INFO_C2S), (b"\x01" * 32, b"\x02" * 32, SESSION_INFO_S2C)):
        reference = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)
        assert hkdf_sha256(ikm, salt, info) == reference


def render(vectors: dict) -> str:
    return json.dumps(vectors, indent=2, ensure_ascii=False) + "\n"


def generate() -> str:
    self_test()
    return render(build_vectors())


if __name__ == "__main__":
    sys.exit(vectorfile.run(__doc__.splitlines()[0], "protocol-vectors.json", "protocol-vectors.py", generate))
