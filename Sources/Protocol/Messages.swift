public import NIOCore

/// Message type numbers. Client messages are below 0x80, server messages 0x80 and above.
public enum MessageType: UInt8, Hashable, Sendable, CaseIterable {
    case register = 0x01
    case login = 0x02
    case logout = 0x03
    case transfer = 0x04
    case balance = 0x05
    case history = 0x06
    case changePassword = 0x07
    case proof = 0x08
    case treeProof = 0x09

    case hello = 0x81
    case registered = 0x82
    case loggedIn = 0x83
    case loggedOut = 0x84
    case transferred = 0x85
    case balanceReport = 0x86
    case historyPage = 0x87
    case passwordChanged = 0x88
    case inclusionProof = 0x89
    case treeProofs = 0x8A
    case error = 0xFF
}

/// Field size limits enforced while decoding, before any domain validation.
public enum FieldLimits {
    public static let usernameBytes = 200
    public static let passwordBytes = 256
    public static let transferIDBytes = 128
    public static let amountBytes = 64
    public static let errorMessageBytes = 1024
    public static let publicKeyBytes = 32
    public static let signatureBytes = 64
    /// A signed tree head: a checkpoint note with its signatures (cosignatures included).
    public static let treeHeadBytes = 8_192
    /// Hashes in one inclusion or consistency proof (RFC 9162: at most 64 and 65).
    public static let proofHashes = 65
    /// A device token, as the server issues it and the client presents it.
    public static let deviceTokenBytes = 256
    /// The most entries one history page may hold.
    public static let historyPageEntries = 100
}

/// A request from a client.
public enum ClientMessage: Hashable, Sendable {
    case register(username: String, password: String)
    /// `deviceToken`: the token this client was given at an earlier login of this account, if any.
    case login(username: String, password: String, ephemeralPublicKey: [UInt8], deviceToken: [UInt8]?)
    case logout
    case transfer(transferID: String, recipient: String, amount: String)
    case balance
    /// Entries strictly before `beforePosition` (newest first), at most `limit`.
    case history(beforePosition: UInt64?, limit: UInt16)
    case changePassword(currentPassword: String, newPassword: String)
    /// Asks for a proof that the entry at `position` is in the ledger.
    case proof(position: UInt64)
    /// Asks for the current signed tree head, with the inclusion proof of the entry at
    /// `position` (one the customer is party to) and the consistency proof from `fromTreeSize`.
    case treeProof(position: UInt64?, fromTreeSize: UInt64?)

    public var type: MessageType {
        switch self {
        case .proof: .proof
        case .treeProof: .treeProof
        case .register: .register
        case .login: .login
        case .logout: .logout
        case .transfer: .transfer
        case .balance: .balance
        case .history: .history
        case .changePassword: .changePassword
        }
    }

    /// Writes the message's fields.
    public func encodeBody(into writer: inout FieldWriter) {
        switch self {
        case .register(let username, let password):
            writer.string(1, username)
            writer.string(2, password)
        case .login(let username, let password, let key, let deviceToken):
            writer.string(1, username)
            writer.string(2, password)
            writer.bytes(3, key)
            if let deviceToken, !deviceToken.isEmpty { writer.bytes(4, deviceToken) }
        case .logout, .balance:
            break
        case .transfer(let transferID, let recipient, let amount):
            writer.string(1, transferID)
            writer.string(2, recipient)
            writer.string(3, amount)
        case .history(let before, let limit):
            if let before { writer.integer(1, before) }
            writer.integer(2, limit)
        case .changePassword(let current, let new):
            writer.string(1, current)
            writer.string(2, new)
        case .proof(let position):
            writer.integer(1, position)
        case .treeProof(let position, let fromTreeSize):
            if let position { writer.integer(1, position) }
            if let fromTreeSize { writer.integer(2, fromTreeSize) }
        }
    }

    /// Parses a client message body of the given type.
    public static func decode(type rawType: UInt8, body: ByteBuffer) throws(ProtocolError) -> ClientMessage {
        guard let type = MessageType(rawValue: rawType) else {
            throw ProtocolError(.unexpectedMessage, "unknown message type \(rawType)")
        }
        var fields = try FieldReader(body)
        let message: ClientMessage
        switch type {
        case .register:
            message = .register(
                username: try fields.string(1, maximumBytes: FieldLimits.usernameBytes),
                password: try fields.string(2, maximumBytes: FieldLimits.passwordBytes))
        case .login:
            message = .login(
                username: try fields.string(1, maximumBytes: FieldLimits.usernameBytes),
                password: try fields.string(2, maximumBytes: FieldLimits.passwordBytes),
                ephemeralPublicKey: try fields.bytes(3, count: FieldLimits.publicKeyBytes),
                deviceToken: try fields.optionalSlice(4, maximumBytes: FieldLimits.deviceTokenBytes).map { Array($0.readableBytesView) })
        case .logout:
            message = .logout
        case .transfer:
            message = .transfer(
                transferID: try fields.string(1, maximumBytes: FieldLimits.transferIDBytes),
                recipient: try fields.string(2, maximumBytes: FieldLimits.usernameBytes),
                amount: try fields.string(3, maximumBytes: FieldLimits.amountBytes))
        case .balance:
            message = .balance
        case .history:
            let before = try fields.optionalInteger(1, as: UInt64.self)
            let limit = try fields.integer(2, as: UInt16.self)
            guard limit >= 1, Int(limit) <= FieldLimits.historyPageEntries else {
                throw ProtocolError(.malformedMessage, "history limit must be 1 to \(FieldLimits.historyPageEntries)")
            }
            message = .history(beforePosition: before, limit: limit)
        case .changePassword:
            message = .changePassword(
                currentPassword: try fields.string(1, maximumBytes: FieldLimits.passwordBytes),
                newPassword: try fields.string(2, maximumBytes: FieldLimits.passwordBytes))
        case .proof:
            message = .proof(position: try fields.integer(1, as: UInt64.self))
        case .treeProof:
            message = .treeProof(position: try fields.optionalInteger(1, as: UInt64.self), fromTreeSize: try fields.optionalInteger(2, as: UInt64.self))
        case .hello, .registered, .loggedIn, .loggedOut, .transferred, .balanceReport, .historyPage, .passwordChanged, .inclusionProof, .treeProofs, .error:
            throw ProtocolError(.unexpectedMessage, "message type \(rawType) is sent by servers only")
        }
        try fields.finish()
        return message
    }
}

/// The server's confirmation of a transfer: the committed ledger entry as the sender sees it.
public struct TransferConfirmation: Hashable, Sendable {
    public var transferID: String
    /// The entry's position in the ledger.
    public var position: UInt64
    public var sender: String
    public var recipient: String
    /// Decimal string, for example "10.00".
    public var amount: String
    /// The sender's balance right after this transfer, as a decimal string.
    public var balanceAfter: String
    public var createdAtMs: Int64
    /// True when this answers a retry of a transfer id that was already committed.
    public var isRetry: Bool
    /// The entry's link in the ledger's hash chain (32 bytes).
    public var chainHash: [UInt8]
    /// A receipt of an earlier server: its Ed25519 signature over `Receipt.signaturePayload`
    /// (64 bytes). Empty in a receipt proven by the transparency log (`treeHead`).
    public var signature: [UInt8]
    /// The entry as the ledger holds it, its canonical encoding: the log's leaf.
    public var entry: [UInt8]
    /// The tree head the server signed for the group the entry was committed in (or, for a
    /// retry, its latest head), as a C2SP signed note.
    public var treeHead: [UInt8]
    /// The entry's inclusion proof in that head: the RFC 9162 audit path, leaf index
    /// `position - 1`.
    public var inclusionPath: [[UInt8]]

    public init(
        transferID: String, position: UInt64, sender: String, recipient: String, amount: String, balanceAfter: String, createdAtMs: Int64,
        isRetry: Bool, chainHash: [UInt8] = Array(repeating: 0, count: 32), signature: [UInt8] = [], entry: [UInt8] = [], treeHead: [UInt8] = [],
        inclusionPath: [[UInt8]] = []
    ) {
        self.chainHash = chainHash
        self.signature = signature
        self.entry = entry
        self.treeHead = treeHead
        self.inclusionPath = inclusionPath
        self.transferID = transferID
        self.position = position
        self.sender = sender
        self.recipient = recipient
        self.amount = amount
        self.balanceAfter = balanceAfter
        self.createdAtMs = createdAtMs
        self.isRetry = isRetry
    }
}

/// One line of a customer's history.
public struct HistoryEntry: Hashable, Sendable {
    public enum Kind: UInt8, Hashable, Sendable {
        case transfer = 1
        case deposit = 2
    }

    public var position: UInt64
    public var kind: Kind
    public var transferID: String
    public var sender: String
    public var recipient: String
    public var amount: String
    /// The viewing customer's balance right after this entry.
    public var balanceAfter: String
    public var createdAtMs: Int64

    public init(position: UInt64, kind: Kind, transferID: String, sender: String, recipient: String, amount: String, balanceAfter: String, createdAtMs: Int64) {
        self.position = position
        self.kind = kind
        self.transferID = transferID
        self.sender = sender
        self.recipient = recipient
        self.amount = amount
        self.balanceAfter = balanceAfter
        self.createdAtMs = createdAtMs
    }

    /// The most bytes a history page's entries may take, so that the whole `history_page` frame
    /// (header, the next-page field and the MAC included) stays within the 64 KiB every client
    /// accepts, and within the 65535 bytes of one field.
    public static let maximumPageBytes = 60_000

    /// The bytes the entry takes in a page: its list item (tag, length) and its fields.
    public static func encodedByteCount(_ entry: HistoryEntry) -> Int {
        let strings = [entry.transferID, entry.sender, entry.recipient, entry.amount, entry.balanceAfter]
        return 3 + (3 + 8) + (3 + 1) + (3 + 8) + strings.reduce(0) { $0 + 3 + $1.utf8.count }
    }
}

/// An answer from the server.
public enum ServerMessage: Hashable, Sendable {
    case hello(connectionID: ConnectionID, replayWindowMs: UInt64)
    case registered(username: String)
    /// `deviceToken`: a token for the client to keep and present at its next login of this account.
    case loggedIn(username: String, balance: String, ephemeralPublicKey: [UInt8], signature: [UInt8], deviceToken: [UInt8]?)
    case loggedOut
    case transferred(TransferConfirmation)
    case balanceReport(username: String, balance: String)
    /// Newest first; `nextBefore` is set when older entries exist.
    case historyPage(entries: [HistoryEntry], nextBefore: UInt64?)
    case passwordChanged
    case inclusionProof(InclusionProof)
    case treeProofs(TreeProofs)
    case error(code: UInt16, message: String)

    public var type: MessageType {
        switch self {
        case .hello: .hello
        case .registered: .registered
        case .loggedIn: .loggedIn
        case .loggedOut: .loggedOut
        case .transferred: .transferred
        case .balanceReport: .balanceReport
        case .historyPage: .historyPage
        case .passwordChanged: .passwordChanged
        case .inclusionProof: .inclusionProof
        case .treeProofs: .treeProofs
        case .error: .error
        }
    }

    /// Writes the message's fields.
    public func encodeBody(into writer: inout FieldWriter) {
        switch self {
        case .hello(let connectionID, let window):
            writer.bytes(1, connectionID.bytes)
            writer.integer(2, window)
        case .registered(let username):
            writer.string(1, username)
        case .loggedIn(let username, let balance, let key, let signature, let deviceToken):
            writer.string(1, username)
            writer.string(2, balance)
            writer.bytes(3, key)
            writer.bytes(4, signature)
            // An empty token is no token: an empty field does not decode.
            if let deviceToken, !deviceToken.isEmpty { writer.bytes(5, deviceToken) }
        case .loggedOut, .passwordChanged:
            break
        case .transferred(let confirmation):
            writer.string(1, confirmation.transferID)
            writer.integer(2, confirmation.position)
            writer.string(3, confirmation.sender)
            writer.string(4, confirmation.recipient)
            writer.string(5, confirmation.amount)
            writer.string(6, confirmation.balanceAfter)
            writer.integer(7, confirmation.createdAtMs)
            writer.integer(8, confirmation.isRetry ? UInt8(1) : UInt8(0))
            writer.bytes(9, confirmation.chainHash)
            if !confirmation.signature.isEmpty { writer.bytes(10, confirmation.signature) }
            if !confirmation.treeHead.isEmpty {
                writer.bytes(11, confirmation.entry)
                writer.bytes(12, confirmation.treeHead)
                // Absent for the only leaf of a tree of one.
                if !confirmation.inclusionPath.isEmpty { writer.bytes(13, concatenating: confirmation.inclusionPath) }
            }
        case .balanceReport(let username, let balance):
            writer.string(1, username)
            writer.string(2, balance)
        case .historyPage(let entries, let nextBefore):
            writer.nested(1) { list in
                for entry in entries {
                    list.nested(1) { item in
                        item.integer(1, entry.position)
                        item.integer(2, entry.kind.rawValue)
                        item.string(3, entry.transferID)
                        item.string(4, entry.sender)
                        item.string(5, entry.recipient)
                        item.string(6, entry.amount)
                        item.string(7, entry.balanceAfter)
                        item.integer(8, entry.createdAtMs)
                    }
                }
            }
            if let nextBefore { writer.integer(2, nextBefore) }
        case .inclusionProof(let proof):
            writer.integer(1, proof.position)
            writer.bytes(2, proof.digests)
            writer.integer(3, proof.checkpointPosition)
            writer.bytes(4, proof.checkpointChainHash)
            writer.integer(5, proof.checkpointCreatedAtMs)
            writer.bytes(6, proof.checkpointSignature)
            writer.bytes(7, proof.entry)
            writer.bytes(8, proof.previousChainHash)
        case .treeProofs(let proofs):
            // Empty fields are left out: an empty path (a tree of one leaf, equal sizes) is absent.
            writer.bytes(1, proofs.treeHead)
            if !proofs.entry.isEmpty { writer.bytes(2, proofs.entry) }
            if !proofs.inclusionPath.isEmpty { writer.bytes(3, concatenating: proofs.inclusionPath) }
            if proofs.fromTreeSize > 0 { writer.integer(4, proofs.fromTreeSize) }
            if !proofs.consistencyPath.isEmpty { writer.bytes(5, concatenating: proofs.consistencyPath) }
        case .error(let code, let message):
            writer.integer(1, code)
            writer.string(2, message)
        }
    }

    /// Parses a server message body of the given type.
    public static func decode(type rawType: UInt8, body: ByteBuffer) throws(ProtocolError) -> ServerMessage {
        guard let type = MessageType(rawValue: rawType) else {
            throw ProtocolError(.unexpectedMessage, "unknown message type \(rawType)")
        }
        var fields = try FieldReader(body)
        let message: ServerMessage
        switch type {
        case .hello:
            message = .hello(
                connectionID: ConnectionID(bytes: try fields.bytes(1, count: 16)),
                replayWindowMs: try fields.integer(2, as: UInt64.self))
        case .registered:
            message = .registered(username: try fields.string(1, maximumBytes: FieldLimits.usernameBytes))
        case .loggedIn:
            message = .loggedIn(
                username: try fields.string(1, maximumBytes: FieldLimits.usernameBytes),
                balance: try fields.string(2, maximumBytes: FieldLimits.amountBytes),
                ephemeralPublicKey: try fields.bytes(3, count: FieldLimits.publicKeyBytes),
                signature: try fields.bytes(4, count: FieldLimits.signatureBytes),
                deviceToken: try fields.optionalSlice(5, maximumBytes: FieldLimits.deviceTokenBytes).map { Array($0.readableBytesView) })
        case .loggedOut:
            message = .loggedOut
        case .transferred:
            let retry = try fields.integer(8, as: UInt8.self)
            guard retry <= 1 else { throw ProtocolError(.malformedMessage, "field 8 must be 0 or 1") }
            message = .transferred(TransferConfirmation(
                transferID: try fields.string(1, maximumBytes: FieldLimits.transferIDBytes),
                position: try fields.integer(2, as: UInt64.self),
                sender: try fields.string(3, maximumBytes: FieldLimits.usernameBytes),
                recipient: try fields.string(4, maximumBytes: FieldLimits.usernameBytes),
                amount: try fields.string(5, maximumBytes: FieldLimits.amountBytes),
                balanceAfter: try fields.string(6, maximumBytes: FieldLimits.amountBytes),
                createdAtMs: try fields.integer(7, as: Int64.self),
                isRetry: retry == 1,
                chainHash: try fields.bytes(9, count: 32),
                signature: try fields.optionalSlice(10, maximumBytes: FieldLimits.signatureBytes).map { Array($0.readableBytesView) } ?? [],
                entry: try fields.optionalSlice(11, maximumBytes: CanonicalEntry.maximumEncodedBytes).map { Array($0.readableBytesView) } ?? [],
                treeHead: try fields.optionalSlice(12, maximumBytes: FieldLimits.treeHeadBytes).map { Array($0.readableBytesView) } ?? [],
                inclusionPath: try Self.hashes(try fields.optionalSlice(13, maximumBytes: FieldLimits.proofHashes * 32), field: 13)))
        case .balanceReport:
            message = .balanceReport(
                username: try fields.string(1, maximumBytes: FieldLimits.usernameBytes),
                balance: try fields.string(2, maximumBytes: FieldLimits.amountBytes))
        case .historyPage:
            let list = try fields.slice(1, maximumBytes: Int(UInt16.max))
            let nextBefore = try fields.optionalInteger(2, as: UInt64.self)
            message = .historyPage(entries: try Self.decodeHistoryEntries(list), nextBefore: nextBefore)
        case .passwordChanged:
            message = .passwordChanged
        case .inclusionProof:
            let position = try fields.integer(1, as: UInt64.self)
            let digests = try fields.slice(2, maximumBytes: InclusionProof.maximumDigests * 32)
            guard digests.readableBytes % 32 == 0 else { throw ProtocolError(.malformedMessage, "field 2 must hold 32-byte digests") }
            message = .inclusionProof(InclusionProof(
                position: position, digests: Array(digests.readableBytesView),
                checkpointPosition: try fields.integer(3, as: UInt64.self),
                checkpointChainHash: try fields.bytes(4, count: 32),
                checkpointCreatedAtMs: try fields.integer(5, as: Int64.self),
                checkpointSignature: try fields.bytes(6, count: FieldLimits.signatureBytes),
                entry: Array(try fields.slice(7, maximumBytes: CanonicalEntry.maximumEncodedBytes).readableBytesView),
                previousChainHash: try fields.bytes(8, count: 32)))
        case .treeProofs:
            message = .treeProofs(TreeProofs(
                treeHead: Array(try fields.slice(1, maximumBytes: FieldLimits.treeHeadBytes).readableBytesView),
                entry: try fields.optionalSlice(2, maximumBytes: CanonicalEntry.maximumEncodedBytes).map { Array($0.readableBytesView) } ?? [],
                inclusionPath: try Self.hashes(try fields.optionalSlice(3, maximumBytes: FieldLimits.proofHashes * 32), field: 3),
                fromTreeSize: try fields.optionalInteger(4, as: UInt64.self) ?? 0,
                consistencyPath: try Self.hashes(try fields.optionalSlice(5, maximumBytes: FieldLimits.proofHashes * 32), field: 5)))
        case .error:
            message = .error(
                code: try fields.integer(1, as: UInt16.self),
                message: try fields.string(2, maximumBytes: FieldLimits.errorMessageBytes))
        case .register, .login, .logout, .transfer, .balance, .history, .changePassword, .proof, .treeProof:
            throw ProtocolError(.unexpectedMessage, "message type \(rawType) is sent by clients only")
        }
        try fields.finish()
        return message
    }

    /// 32-byte hashes, concatenated.
    private static func hashes(_ slice: ByteBuffer?, field: UInt8) throws(ProtocolError) -> [[UInt8]] {
        guard let slice else { return [] }
        guard slice.readableBytes % 32 == 0 else { throw ProtocolError(.malformedMessage, "field \(field) must hold 32-byte hashes") }
        let bytes = Array(slice.readableBytesView)
        return stride(from: 0, to: bytes.count, by: 32).map { Array(bytes[$0..<($0 + 32)]) }
    }

    private static func decodeHistoryEntries(_ list: ByteBuffer) throws(ProtocolError) -> [HistoryEntry] {
        var reader = list
        var entries: [HistoryEntry] = []
        while reader.readableBytes > 0 {
            guard entries.count < FieldLimits.historyPageEntries else {
                throw ProtocolError(.malformedMessage, "history page holds too many entries")
            }
            guard reader.readInteger(as: UInt8.self) == 1,
                  let length = reader.readInteger(as: UInt16.self),
                  let item = reader.readSlice(length: Int(length))
            else {
                throw ProtocolError(.malformedMessage, "history entry is truncated")
            }
            var fields = try FieldReader(item)
            guard let kind = HistoryEntry.Kind(rawValue: try fields.integer(2, as: UInt8.self)) else {
                throw ProtocolError(.malformedMessage, "unknown history entry kind")
            }
            entries.append(HistoryEntry(
                position: try fields.integer(1, as: UInt64.self),
                kind: kind,
                transferID: try fields.string(3, maximumBytes: FieldLimits.transferIDBytes),
                sender: try fields.string(4, maximumBytes: FieldLimits.usernameBytes),
                recipient: try fields.string(5, maximumBytes: FieldLimits.usernameBytes),
                amount: try fields.string(6, maximumBytes: FieldLimits.amountBytes),
                balanceAfter: try fields.string(7, maximumBytes: FieldLimits.amountBytes),
                createdAtMs: try fields.integer(8, as: Int64.self)))
            try fields.finish()
        }
        return entries
    }
}
