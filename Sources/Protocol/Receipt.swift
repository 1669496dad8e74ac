public import Crypto

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

    /// Whether the receipt was signed by `identity`.
    public static func isValid(_ confirmation: TransferConfirmation, identity: Curve25519.Signing.PublicKey) -> Bool {
        confirmation.chainHash.count == 32 && identity.isValidSignature(confirmation.signature, for: Self.signaturePayload(confirmation))
    }
}
