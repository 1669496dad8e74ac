import Crypto
import IntegraLedger
import IntegraProtocol
import IntegraTransparency

/// Decoded text through the ledger's rules (amounts, names, transfer ids, passwords) and decoded
/// receipts and proofs through their checks.
enum DomainChecks {
    /// An identity key for checks that need one (nothing a fuzzer sends is signed by it).
    static let fuzzIdentity = Curve25519.Signing.PrivateKey().publicKey

    /// Longer text is no message field's and is left to the decoders' own limits.
    static let maximumTextBytes = 1024
    static let passwordPolicy = PasswordPolicy()

    /// The raw input, when it is short valid UTF-8, as a candidate amount, name or id.
    static func text(_ input: [UInt8], summary: inout FuzzRunSummary) {
        guard input.count <= Self.maximumTextBytes, let text = String(validating: input, as: UTF8.self) else { return }
        Self.text(text, summary: &summary)
    }

    static func text(_ text: String, summary: inout FuzzRunSummary) {
        guard text.utf8.count <= Self.maximumTextBytes else { return }
        Self.amount(text, summary: &summary)
        Self.username(text, summary: &summary)
        Self.transferID(text)
        Self.password(text)
    }

    static func clientMessage(_ message: ClientMessage, summary: inout FuzzRunSummary) {
        switch message {
        case .register(let username, let password):
            Self.username(username, summary: &summary)
            Self.password(password)
        case .changePassword(let current, let new):
            Self.password(current)
            Self.password(new)
        case .login(let username, let password, let keyBytes, _):
            Self.username(username, summary: &summary)
            Self.password(password)
            if let key = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: keyBytes) {
                _ = try? FuzzDeployment.clientEphemeralKey.sharedSecretFromKeyAgreement(with: key)
            }
        case .transfer(let transferID, let recipient, let amount):
            Self.transferID(transferID)
            Self.username(recipient, summary: &summary)
            Self.amount(amount, summary: &summary)
        case .history(let before, _):
            Self.formattedAmount(Int64(truncatingIfNeeded: before ?? 0))
        case .proof(let position):
            Self.formattedAmount(Int64(truncatingIfNeeded: position))
        case .treeProof(let position, let fromTreeSize):
            Self.formattedAmount(Int64(truncatingIfNeeded: position ?? 0))
            Self.formattedAmount(Int64(truncatingIfNeeded: fromTreeSize ?? 0))
        case .logout, .balance:
            break
        }
    }

    static func serverMessage(_ message: ServerMessage, summary: inout FuzzRunSummary) {
        switch message {
        case .registered(let username):
            Self.username(username, summary: &summary)
        case .loggedIn(let username, let balance, _, _, _), .balanceReport(let username, let balance):
            Self.username(username, summary: &summary)
            Self.amount(balance, summary: &summary)
        case .transferred(let confirmation):
            Self.confirmation(confirmation, summary: &summary)
        case .historyPage(let entries, _):
            for entry in entries {
                Self.transferID(entry.transferID)
                Self.username(entry.sender, summary: &summary)
                Self.username(entry.recipient, summary: &summary)
                Self.amount(entry.amount, summary: &summary)
                Self.amount(entry.balanceAfter, summary: &summary)
                Self.formattedAmount(entry.createdAtMs)
            }
        case .inclusionProof(let proof):
            Self.inclusionProof(proof)
        case .treeProofs(let proofs):
            // Whatever a server sends, checking it answers yes or no and never traps.
            if let head = proofs.verifiedHead(identity: Self.fuzzIdentity) {
                _ = proofs.provesEntry(at: 1, in: head)
                _ = proofs.proves(head, extends: head)
            }
            _ = try? SignedNote(parsing: proofs.treeHead)
        case .error(let code, let text):
            if let code = ErrorCode(rawValue: code) {
                _ = (code.name, code.isRetryable, code.closesConnection)
            }
            Self.text(text, summary: &summary)
        case .hello, .loggedOut, .passwordChanged:
            break
        }
    }

    /// `Amount.parse` agrees with a straightforward reading of the format in 128-bit arithmetic,
    /// and what it accepts formats back to the same number of cents.
    static func amount(_ text: String, summary: inout FuzzRunSummary) {
        let expected = Self.referenceCents(text)
        let parsed: Amount?
        do {
            parsed = try Amount.parse(text, maximumCents: .max)
        } catch {
            guard case .invalidAmount = error else {
                FuzzProperty.require(false, "Amount.parse failed with \(error)")
                return
            }
            parsed = nil
        }
        FuzzProperty.require(parsed?.cents == expected, "Amount.parse(\(text.debugDescription)) is \(String(describing: parsed)), expected \(String(describing: expected)) cents")
        guard let parsed else { return }
        summary.amountsAccepted += 1
        let limitCents: Int64 = 1_000_000_00
        FuzzProperty.require(((try? Amount.parse(text, maximumCents: limitCents)) != nil) == (parsed.cents <= limitCents), "Amount.parse ignores its maximum for \(text.debugDescription)")
        Self.formattedAmount(parsed.cents)
    }

    /// `Amount.format` output parses back to the same number of cents.
    static func formattedAmount(_ cents: Int64) {
        let text = Amount.format(cents: cents)
        if cents > 0 {
            FuzzProperty.require((try? Amount.parse(text, maximumCents: .max))?.cents == cents, "Amount.format(\(cents)) = \(text) does not parse back")
        } else if cents < 0, cents != .min {
            FuzzProperty.require(text.hasPrefix("-") && (try? Amount.parse(String(text.dropFirst()), maximumCents: .max))?.cents == -cents, "Amount.format(\(cents)) = \(text) is not the negated amount")
        }
    }

    /// Digits, optionally a point and one or two digits, at most 32 bytes, above zero and within Int64.
    static func referenceCents(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        guard (1...32).contains(bytes.count) else { return nil }
        let parts = bytes.split(separator: UInt8(ascii: "."), maxSplits: 1, omittingEmptySubsequences: false)
        let isDigit = { (byte: UInt8) in byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
        guard let whole = parts.first, !whole.isEmpty, whole.allSatisfy(isDigit) else { return nil }
        var fraction: [UInt8] = parts.count == 2 ? Array(parts[1]) : []
        guard parts.count == 1 || (1...2).contains(fraction.count) && fraction.allSatisfy(isDigit) else { return nil }
        while fraction.count < 2 { fraction.append(UInt8(ascii: "0")) }
        var value: Int128 = 0
        for digit in whole + fraction {
            value = value * 10 + Int128(digit - UInt8(ascii: "0"))
        }
        guard value > 0, value <= Int128(Int64.max) else { return nil }
        return Int64(value)
    }

    /// An accepted name is canonical: 1 to 50 characters and at most 64 bytes, accepting it again
    /// changes nothing (neither the name nor its skeleton), and its skeleton stays within bounds.
    /// Any text, accepted or not, yields migration keys without trouble.
    static func username(_ text: String, summary: inout FuzzRunSummary) {
        guard text.utf8.count <= Self.maximumTextBytes else { return }
        let keys = Username.keys(forStoredName: text)
        FuzzProperty.require(Username.keys(forStoredName: keys.lookupForm).lookupForm == keys.lookupForm, "lookup form of \(text.debugDescription) is not stable")
        guard let name = try? Username(text) else { return }
        summary.usernamesAccepted += 1
        FuzzProperty.require((1...Username.maximumCharacters).contains(name.canonical.count), "name \(name.canonical.debugDescription) has \(name.canonical.count) characters")
        FuzzProperty.require(name.canonical.utf8.count <= Username.maximumCanonicalBytes, "name \(name.canonical.debugDescription) has \(name.canonical.utf8.count) bytes")
        let again = try? Username(name.canonical)
        FuzzProperty.require(again?.canonical == name.canonical, "name \(text.debugDescription) canonicalises to \(name.canonical.debugDescription), which canonicalises to \(String(describing: again?.canonical.debugDescription))")
        let skeleton = name.skeleton
        FuzzProperty.require(again?.skeleton == skeleton && keys.skeleton == skeleton && keys.lookupForm == name.canonical, "keys of \(text.debugDescription) differ between typing it and storing it")
        FuzzProperty.require(skeleton.utf8.count <= Username.maximumSkeletonBytes, "skeleton of \(name.canonical.debugDescription) has \(skeleton.utf8.count) bytes")
    }

    static func transferID(_ text: String) {
        guard let id = try? TransferID(text) else { return }
        FuzzProperty.require(id.value == text && (1...TransferID.maximumLength).contains(text.utf8.count) && text.utf8.allSatisfy { $0 < 0x80 }, "transfer id \(text.debugDescription) should have been rejected")
    }

    static func password(_ text: String) {
        let accepted = (try? Self.passwordPolicy.validate(text)) != nil
        let length = text.utf8.count
        FuzzProperty.require(accepted == (length >= 12 && length <= 72 && !text.utf8.contains(0)), "password policy on \(length) bytes: \(accepted)")
        FuzzProperty.require(!accepted || Self.passwordPolicy.isPlausible(text), "an accepted password is not plausible at login")
    }

    /// A decoded receipt's text follows the ledger's rules or is rejected, and its signature is checked without trouble.
    static func confirmation(_ confirmation: TransferConfirmation, summary: inout FuzzRunSummary) {
        Self.transferID(confirmation.transferID)
        Self.username(confirmation.sender, summary: &summary)
        Self.username(confirmation.recipient, summary: &summary)
        Self.amount(confirmation.amount, summary: &summary)
        Self.amount(confirmation.balanceAfter, summary: &summary)
        _ = Receipt.isValid(confirmation, identity: FuzzDeployment.identityKey.publicKey)
    }

    /// A decoded proof is checked without trouble; the same proof made consistent (an entry
    /// matching the receipt, the chain folded to the checkpoint) and signed by the identity
    /// proves its receipt.
    static func inclusionProof(_ proof: InclusionProof) {
        guard let position = Int64(exactly: proof.position) else {
            _ = proof.proves(Self.receipt(position: proof.position, createdAtMs: proof.checkpointCreatedAtMs, chainHash: proof.checkpointChainHash), identity: FuzzDeployment.identityKey.publicKey)
            return
        }
        let entry = CanonicalEntry(
            position: position, kind: CanonicalEntry.transferKind, transferID: "t", fromUserID: 1, from: "a", toUserID: 2, to: "b",
            amountCents: 100, fromBalanceAfterCents: 0, toBalanceAfterCents: 100, createdAtMs: proof.checkpointCreatedAtMs)
        let previous = proof.previousChainHash.count == 32 ? proof.previousChainHash : Array(repeating: 0, count: 32)
        let chainHash = Array(SHA256.hash(data: previous + Array(SHA256.hash(data: entry.encoding))))
        let receipt = Self.receipt(position: proof.position, createdAtMs: proof.checkpointCreatedAtMs, chainHash: chainHash)
        _ = proof.proves(receipt, identity: FuzzDeployment.identityKey.publicKey)
        let (checkpointPosition, overflow) = proof.position.addingReportingOverflow(UInt64(proof.digests.count / 32))
        guard !overflow, checkpointPosition <= UInt64(Int64.max) else { return }
        var valid = proof
        valid.entry = entry.encoding
        valid.previousChainHash = previous
        valid.checkpointPosition = checkpointPosition
        var hash = receipt.chainHash
        for offset in stride(from: 0, to: proof.digests.count, by: 32) {
            hash = Array(SHA256.hash(data: hash + proof.digests[offset..<(offset + 32)]))
        }
        valid.checkpointChainHash = hash
        let payload = InclusionProof.checkpointPayload(position: Int64(checkpointPosition), chainHash: hash, createdAtMs: proof.checkpointCreatedAtMs)
        guard let signature = try? FuzzDeployment.identityKey.signature(for: payload) else { return }
        valid.checkpointSignature = Array(signature)
        FuzzProperty.require(valid.proves(receipt, identity: FuzzDeployment.identityKey.publicKey), "a consistent, signed proof does not prove its receipt")
    }

    /// The receipt the fuzz checks hold proofs against: a transfer of 1.00 from a to b.
    static func receipt(position: UInt64, createdAtMs: Int64, chainHash: [UInt8]) -> TransferConfirmation {
        TransferConfirmation(
            transferID: "t", position: position, sender: "a", recipient: "b", amount: "1.00",
            balanceAfter: "0.00", createdAtMs: createdAtMs, isRetry: false, chainHash: chainHash)
    }
}
