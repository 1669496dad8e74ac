/// The logged-in customer a session request comes from, as the session knows them.
public struct SessionIdentity: Hashable, Sendable {
    public let userID: Int64
    /// The canonical name.
    public let username: String
    /// The user row's credential version when the session began (or its own last password
    /// change): a password change anywhere else ends the session.
    public let credentialVersion: Int64

    public init(userID: Int64, username: String, credentialVersion: Int64) {
        self.userID = userID
        self.username = username
        self.credentialVersion = credentialVersion
    }
}

/// An authenticated request, as the state machine hands it to the ledger service.
public enum ServerRequest: Hashable, Sendable {
    case register(username: String, password: String)
    case login(username: String, password: String)
    case logout(SessionIdentity)
    case transfer(SessionIdentity, transferID: String, recipient: String, amount: String)
    case balance(SessionIdentity)
    case history(SessionIdentity, beforePosition: UInt64?, limit: UInt16)
    case changePassword(SessionIdentity, currentPassword: String, newPassword: String)
    case proof(SessionIdentity, position: UInt64)
    case treeProof(SessionIdentity, position: UInt64?, fromTreeSize: UInt64?)

    /// The logged-in customer, for session requests.
    public var session: SessionIdentity? {
        switch self {
        case .register, .login: nil
        case .logout(let session), .transfer(let session, _, _, _), .balance(let session), .history(let session, _, _),
             .changePassword(let session, _, _), .proof(let session, _), .treeProof(let session, _, _):
            session
        }
    }
}

/// The frame a request arrived in, for the replay record.
public struct RequestContext: Hashable, Sendable {
    public let nonce: Nonce
    public let timestampMs: Int64

    public init(nonce: Nonce, timestampMs: Int64) {
        self.nonce = nonce
        self.timestampMs = timestampMs
    }
}

/// What a successful password check grants: the session's identity and what `logged_in` shows.
public struct LoginGrant: Hashable, Sendable {
    public let identity: SessionIdentity
    public let balance: String
    /// A new device token for the client to keep (see `DeviceToken` on the server).
    public let deviceToken: [UInt8]?

    public init(identity: SessionIdentity, balance: String, deviceToken: [UInt8]?) {
        self.identity = identity
        self.balance = balance
        self.deviceToken = deviceToken
    }
}

/// The ledger service's answer to a `ServerRequest`.
public enum RequestResult: Hashable, Sendable {
    /// Send this message (registered, transferred, balance, history, proof).
    case reply(ServerMessage)
    /// The password was right: finish the login handshake.
    case loginSucceeded(LoginGrant)
    /// The password was changed; the session continues at this credential version.
    case passwordChanged(credentialVersion: Int64)
    case loggedOut
    case failed(ProtocolError)
}

/// What the shared login throttle is asked before a password is checked.
public enum ThrottleQuery: Hashable, Sendable {
    /// A login for `account` (as typed), with the device token the client presented, if any.
    case login(account: String, deviceToken: [UInt8]?)
    /// A session checks its customer's current password (`change_password`).
    case passwordCheck(account: String, deviceToken: [UInt8]?)
    /// A new account.
    case registration
}

/// The throttle's answer.
public enum ThrottleVerdict: Hashable, Sendable {
    case allowed
    /// Too many failures: wait this long.
    case throttled(retryAfterMs: Int64)
    /// Too many password checks already waiting for this account or address.
    case busy
}

/// How a finished attempt counts in the throttle.
public enum ThrottleOutcome: Hashable, Sendable {
    case succeeded
    case wrongCredentials
    /// Not a password verdict (refused before the check, store unavailable, ...).
    case notChecked
}
