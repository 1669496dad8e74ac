public import Crypto
public import IntegraTransparency

/// A transfer receipt: the server's signature over what it committed, checkable offline by
/// anyone holding the server's public identity key (every customer's `client.json` has it).
public enum Receipt {
    /// The signed bytes: every field of the confirmation but `isRetry` (a retry returns the
    /// original receipt), strings as sent on the wire.
    public static func signaturePayload(_ confirmation: TransferConfirmation) -> [UInt8] {
        var bytes = Array("integra/1 receipt".utf8)
        func append(_ text: String) {
            let utf8 = Array(text.utf8)
            bytes.append(UInt8(truncatingIfNeeded: utf8.count >> 8))
            bytes.append(UInt8(truncatingIfNeeded: utf8.count))
            bytes.append(contentsOf: utf8)
        }
        func append<I: FixedWidthInteger>(_ value: I) {
            withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
        }
        append(confirmation.transferID)
        append(confirmation.position)
        append(confirmation.sender)
        append(confirmation.recipient)
        append(confirmation.amount)
        append(confirmation.balanceAfter)
        append(confirmation.createdAtMs)
        bytes.append(contentsOf: confirmation.chainHash)
        return bytes
    }

    /// Signs a confirmation with the server's identity key.
    public static func sign(_ confirmation: TransferConfirmation, with identityKey: Curve25519.Signing.PrivateKey) throws -> TransferConfirmation {
        var signed = confirmation
        signed.signature = Array(try identityKey.signature(for: Self.signaturePayload(confirmation)))
        return signed
    }

    /// Whether the receipt is the server's: its entry is in a tree head `identity` signed, and
    /// says what the receipt says; or, for a receipt of an earlier server, its signature.
    public static func isValid(_ confirmation: TransferConfirmation, identity: Curve25519.Signing.PublicKey) -> Bool {
        guard !confirmation.treeHead.isEmpty else {
            return confirmation.chainHash.count == 32 && identity.isValidSignature(confirmation.signature, for: Self.signaturePayload(confirmation))
        }
        return Self.provenHead(confirmation, identity: identity) != nil
    }

    /// The signed head a tree-proven receipt's entry is included in, or nil: the head must carry
    /// `identity`'s signature, the entry must be leaf `position - 1` of it by the audit path,
    /// and the entry must be the receipt's transfer, field by field.
    public static func provenHead(_ confirmation: TransferConfirmation, identity: Curve25519.Signing.PublicKey) -> TreeCheckpoint? {
        guard confirmation.position >= 1,
              let checkpoint = VerifiedHeadCache.shared.checkpoint(note: confirmation.treeHead, identity: identity, open: {
                  try? TreeCheckpoint.opening(confirmation.treeHead, logVerifier: TreeHeadKey.verifier(identity: identity))
              }),
              let entry = CanonicalEntry(encoding: confirmation.entry), entry.shows(confirmation),
              TreeInclusion(head: SignedTreeHead(treeSize: checkpoint.treeSize, rootHash: checkpoint.rootHash, createdAtMs: 0, note: confirmation.treeHead),
                            leafIndex: confirmation.position - 1, path: confirmation.inclusionPath).proves(leaf: confirmation.entry)
        else { return nil }
        return checkpoint
    }
}
