import IntegraProtocol
import NIOCore

/// The client state machine fed the input's frames as a server's stream: the first as `hello`,
/// each later one as the answer to a request of the kind its type answers. Frames are resealed
/// with the pre-login server key for the connection id the first frame announces.
struct ClientSessionDriver {
    var machine = ClientConnectionStateMachine(configuration: FuzzDeployment.clientConfiguration)

    mutating func run(_ frames: [ByteBuffer], summary: inout FuzzRunSummary) {
        guard let first = frames.first else { return }
        let connectionID = Self.announcedConnectionID(first) ?? FuzzDeployment.connectionID
        let key = FuzzDeployment.serverConfiguration.preLoginKeys.serverToClient
        let nowMs = FuzzDeployment.nowMs
        do {
            try self.machine.helloReceived(FuzzDeployment.reseal(first, key: key, connectionID: connectionID), nowMs: nowMs)
        } catch {
            return
        }
        for frame in frames.dropFirst() where self.machine.isReady {
            let type = frame.getInteger(at: frame.readerIndex + 5, as: UInt8.self) ?? 0
            let expected = self.sendRequest(answeredBy: type)
            guard let reply = try? self.machine.replyReceived(FuzzDeployment.reseal(frame, key: key, connectionID: connectionID), nowMs: nowMs) else {
                continue
            }
            FuzzProperty.require(reply.type == expected || reply.type == .error, "the client accepted \(reply.type) as the answer to a request for \(expected)")
            summary.clientRepliesAccepted += 1
        }
    }

    static func announcedConnectionID(_ frame: ByteBuffer) -> ConnectionID? {
        guard let raw = try? RawFrame(frame), case .hello(let connectionID, _)? = try? ServerMessage.decode(type: raw.header.type, body: raw.body) else {
            return nil
        }
        return connectionID
    }

    /// Sends the request that a reply of `type` answers; returns the reply type it expects.
    mutating func sendRequest(answeredBy type: UInt8) -> MessageType {
        let nowMs = FuzzDeployment.nowMs
        let password = "correct horse battery"
        let request: ClientMessage
        switch MessageType(rawValue: type) {
        case .loggedIn?:
            _ = try? self.machine.makeLogin(username: "alice", password: password, nowMs: nowMs)
            return .loggedIn
        case .registered?: request = .register(username: "alice", password: password)
        case .loggedOut?: request = .logout
        case .transferred?: request = .transfer(transferID: "t-1", recipient: "bob", amount: "1.00")
        case .historyPage?: request = .history(beforePosition: nil, limit: 10)
        case .passwordChanged?: request = .changePassword(currentPassword: password, newPassword: "another good password")
        case .inclusionProof?: request = .proof(position: 1)
        default: request = .balance
        }
        _ = try? self.machine.makeRequest(request, nowMs: nowMs)
        switch request {
        case .register: return .registered
        case .logout: return .loggedOut
        case .transfer: return .transferred
        case .history: return .historyPage
        case .changePassword: return .passwordChanged
        case .proof: return .inclusionProof
        case .treeProof: return .treeProofs
        case .balance, .login: return .balanceReport
        }
    }
}
