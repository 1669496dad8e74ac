import Foundation
import IntegraClient
import IntegraLedger
@testable import IntegraProtocol
import IntegraServer
import IntegraStoreFactory
import IntegraTestSupport
import NIOCore
import Testing

/// A customer's whole conversation over real sockets, and the integrity layer under attack on
/// the wire. What depends on the store runs on each store; what the connection state machine
/// decides (and `ConnectionStateMachineTests` proves in memory) runs once, on SQLite.
@Suite(.serialized) struct EndToEndTests {
    @Test(arguments: TestStore.all) func registerLoginTransferBalanceAndHistoryOverRealSockets(store: TestStore) async throws {
        try await withTestServer(store) { server in
            try await server.addCustomer("bob", cents: 0)

            let registered = try await server.withClient { try await $0.register(username: "Alice", password: TestServer.password) }
            #expect(registered == "alice")
            _ = try await Administration.deposit(to: "alice", amount: "500", maximumCents: Int64.max, store: server.store)

            let confirmation = try await server.withClient { client in
                let session = try await client.login(username: "ALICE", password: TestServer.password)
                #expect(session.username == "alice" && session.balance == "500.00")
                return try await client.transfer(to: "Bob", amount: "120.5", transferID: "first")
            }
            #expect(confirmation.amount == "120.50" && confirmation.balanceAfter == "379.50" && confirmation.recipient == "bob")
            #expect(!confirmation.isRetry)

            try await server.withClient { client in
                try await client.login(username: "bob", password: TestServer.password)
                #expect(try await client.balance() == "120.50")
                let history = try await client.history()
                #expect(history.entries.count == 1)
                #expect(history.entries.first?.transferID == "first" && history.entries.first?.balanceAfter == "120.50")
                #expect(history.nextBefore == nil)
                try await client.logout()
            }
        }
    }

    @Test(arguments: TestStore.all) func retriedTransferIDNeverDebitsTwice(store: TestStore) async throws {
        try await withTestServer(store) { server in
            try await server.addCustomer("alice", cents: 10_000)
            try await server.addCustomer("bob", cents: 0)
            try await server.withClient { client in
                try await client.login(username: "alice", password: TestServer.password)
                let first = try await client.transfer(to: "bob", amount: "10", transferID: "retry-me")
                let second = try await client.transfer(to: "bob", amount: "10", transferID: "retry-me")
                #expect(second.isRetry && second.position == first.position)
                await #expect(throws: IntegraClientError(kind: .server, code: ErrorCode.transferIDConflict.rawValue, message: "this transfer id was already used for a different transfer")) {
                    _ = try await client.transfer(to: "bob", amount: "11", transferID: "retry-me")
                }
                #expect(try await client.balance() == "90.00")
            }
        }
    }

    @Test func capturedFrameReplayedOnANewConnectionIsRejected() async throws {
        try await withTestServer { server in
            try await server.addCustomer("alice", cents: 10_000)
            try await server.addCustomer("bob", cents: 0)
            let (loginFrame, transferFrame) = try await server.withClient { client in
                try await client.login(username: "alice", password: TestServer.password)
                let login = client.lastSentFrame!
                _ = try await client.transfer(to: "bob", amount: "10", transferID: "once")
                return (login, client.lastSentFrame!)
            }
            for captured in [loginFrame, transferFrame] {
                let code = try await server.withRawSession { session in
                    try await session.sendBytes(captured)
                    return try await session.errorCodeThenClose()
                }
                #expect(code == .authenticationFailed)
            }
            #expect(try await server.store.balance(ofUserID: server.store.user(named: Username("alice"))!.id) == 9_000)
        }
    }

    @Test(arguments: TestStore.all) func capturedFramesReplayedAfterARestartAreRejected(store: TestStore) async throws {
        let database = try store.freshLocation()
        try await withTemporaryDirectory { directory in
            let frames = try await withTestServer(database: database, directory: directory) { first in
                try await first.addCustomer("alice", cents: 10_000)
                try await first.addCustomer("bob", cents: 0)
                return try await first.withClient { client in
                    try await client.login(username: "alice", password: TestServer.password)
                    let login = client.lastSentFrame!
                    _ = try await client.transfer(to: "bob", amount: "10", transferID: "before-restart")
                    return [login, client.lastSentFrame!]
                }
            }
            try await withTestServer(database: database, directory: directory) { restarted in
                for captured in frames {
                    let code = try await restarted.withRawSession { session in
                        try await session.sendBytes(captured)
                        return try await session.errorCodeThenClose()
                    }
                    #expect(code == .authenticationFailed)
                }
                let alice = try #require(try await restarted.store.user(named: Username("alice")))
                #expect(try await restarted.store.balance(ofUserID: alice.id) == 9_000)
                // The deployment's keys survived the restart: the same client configuration still works.
                try await restarted.withClient { try await $0.login(username: "alice", password: TestServer.password) }
            }
        }
    }

    @Test func flippedBitInAFrameIsRejectedByTheServer() async throws {
        try await withTestServer { server in
            try await server.addCustomer("alice", cents: 100)
            let code = try await server.withClient { client in
                try await client.login(username: "alice", password: TestServer.password)
                _ = try await client.balance()
                var frame = client.lastSentFrame!
                frame.setInteger(frame.getInteger(at: 30, as: UInt8.self)! ^ 0x10, at: 30)
                try await client.sendRaw(frame)
                var code: ErrorCode?
                while let reply = try await client.receiveRaw() { code = RawSession.errorCode(in: reply) }
                return code
            }
            #expect(code == .authenticationFailed)
        }
    }

    @Test func serverFrameSentBackToTheServerIsRejected() async throws {
        try await withTestServer { server in
            let code = try await server.withRawSession { session in
                try await session.sendBytes(session.hello)
                return try await session.errorCodeThenClose()
            }
            #expect(code == .authenticationFailed)
        }
    }

    @Test func frameOfSessionAInjectedIntoSessionBIsRejected() async throws {
        try await withTestServer { server in
            try await server.addCustomer("alice", cents: 100)
            try await server.addCustomer("mallory", cents: 100)
            let frameOfA = try await server.withClient { client in
                try await client.login(username: "alice", password: TestServer.password)
                _ = try await client.balance()
                return client.lastSentFrame!
            }
            let code = try await server.withClient { client in
                try await client.login(username: "mallory", password: TestServer.password)
                try await client.sendRaw(frameOfA)
                var code: ErrorCode?
                while let reply = try await client.receiveRaw() { code = RawSession.errorCode(in: reply) }
                return code
            }
            #expect(code == .authenticationFailed)
        }
    }

    @Test func staleTimestampIsRejected() async throws {
        try await withTestServer { server in
            let message = try await server.withRawSession { session in
                try await session.send(.register(username: "late", password: TestServer.password), timestampMs: session.clock.nowMs() - 121_000)
                return try await session.receive()
            }
            #expect(message == .error(code: ErrorCode.staleTimestamp.rawValue, message: "frame timestamp is outside the 120 s window; check the clock"))
            #expect(try await server.store.user(named: Username("late")) == nil)
        }
    }

    // The man-in-the-middle tests run without TLS: they check the integrity layer on its own.
    @Test func clientRejectsATamperedServerAnswer() async throws {
        try await withTestServer(configure: { $0.plaintext = true }) { server in
            try await server.addCustomer("alice", cents: 10_000)
            try await server.addCustomer("bob", cents: 0)
            // The answer to the transfer is the third server frame (hello, logged in, transferred).
            let tamper: TamperingProxy.Tamper = { direction, index, frame in
                if direction == .serverToClient && index == 2 {
                    let last = frame.writerIndex - 40
                    frame.setInteger(frame.getInteger(at: last, as: UInt8.self)! ^ 0x01, at: last)
                }
            }
            try await withTamperingProxy(upstreamPort: server.port, tamper: tamper) { proxy async throws in
                await #expect(throws: IntegraClientError.self) {
                    try await server.withClient(server: proxy.address) { client in
                        try await client.login(username: "alice", password: TestServer.password)
                        _ = try await client.transfer(to: "bob", amount: "1", transferID: "t")
                    }
                }
                do {
                    try await server.withClient(server: proxy.address) { client in
                        try await client.login(username: "alice", password: TestServer.password)
                        _ = try await client.transfer(to: "bob", amount: "1", transferID: "u")
                    }
                    Issue.record("a tampered answer was accepted")
                } catch let error as IntegraClientError {
                    #expect(error.kind == .untrustedReply && error.code == ErrorCode.authenticationFailed.rawValue)
                }
            }
        }
    }

    @Test func amountChangedInTransitIsRejectedAndMovesNoMoney() async throws {
        try await withTestServer(configure: { $0.plaintext = true }) { server in
            try await server.addCustomer("alice", cents: 100_000)
            try await server.addCustomer("bob", cents: 0)
            // The man in the middle turns "100" into "999" in the transfer frame (the client's second frame).
            let tamper: TamperingProxy.Tamper = { direction, index, frame in
                guard direction == .clientToServer, index == 1 else { return }
                let bytes = Array(frame.readableBytesView)
                if let at = bytes.indices.dropLast(2).first(where: { bytes[$0] == UInt8(ascii: "1") && bytes[$0 + 1] == UInt8(ascii: "0") && bytes[$0 + 2] == UInt8(ascii: "0") }) {
                    frame.setBytes(Array("999".utf8), at: frame.readerIndex + at)
                }
            }
            try await withTamperingProxy(upstreamPort: server.port, tamper: tamper) { proxy in
                do {
                    try await server.withClient(server: proxy.address) { client in
                        try await client.login(username: "alice", password: TestServer.password)
                        _ = try await client.transfer(to: "bob", amount: "100", transferID: "mitm")
                    }
                    Issue.record("a tampered transfer was accepted")
                } catch let error as IntegraClientError {
                    #expect(error.kind == .server && error.code == ErrorCode.authenticationFailed.rawValue)
                }
                let bob = try #require(try await server.store.user(named: Username("bob")))
                #expect(try await server.store.balance(ofUserID: bob.id) == 0)
            }
        }
    }

    @Test(arguments: TestStore.all) func unknownUserAndWrongPasswordGetTheSameAnswer(store: TestStore) async throws {
        try await withTestServer(store) { server in
            try await server.addCustomer("alice", cents: 0)
            var errors: [IntegraClientError] = []
            for (name, password) in [("alice", "wrong password!"), ("nobody", TestServer.password), ("alice", String(repeating: "x", count: 200))] {
                do {
                    try await server.withClient { try await $0.login(username: name, password: password) }
                } catch let error as IntegraClientError {
                    errors.append(error)
                }
            }
            #expect(errors.count == 3)
            #expect(Set(errors).count == 1, "answers differ: \(errors)")
            #expect(errors.first?.code == ErrorCode.invalidCredentials.rawValue)
        }
    }

    @Test(arguments: TestStore.all) func ledgerRefusalsKeepTheSessionUsable(store: TestStore) async throws {
        try await withTestServer(store) { server in
            try await server.addCustomer("alice", cents: 1_000)
            try await server.addCustomer("bob", cents: 0)
            try await server.withClient { client in
                try await client.login(username: "alice", password: TestServer.password)
                let refusals: [(String, String, ErrorCode)] = [
                    ("bob", "10.01", .insufficientFunds), ("nobody", "1", .unknownRecipient), ("alice", "1", .selfTransfer),
                    ("bob", "NaN", .invalidAmount), ("bob", "1e309", .invalidAmount), ("bob", "-5", .invalidAmount),
                    ("bob", "0", .invalidAmount), ("bob", "0.001", .invalidAmount), ("bob", "9223372036854775808", .invalidAmount),
                    ("system", "1", .unknownRecipient), ("bob'; DROP TABLE users;--", "1", .invalidUsername),
                ]
                for (recipient, amount, expected) in refusals {
                    do {
                        _ = try await client.transfer(to: recipient, amount: amount, transferID: UUID().uuidString)
                        Issue.record("\(recipient) \(amount) was accepted")
                    } catch let error as IntegraClientError {
                        #expect(error.code == expected.rawValue, "\(recipient) \(amount): \(error)")
                    }
                }
                #expect(try await client.transfer(to: "bob", amount: "10", transferID: "ok").balanceAfter == "0.00")
            }
        }
    }

    @Test(arguments: TestStore.all) func changedPasswordReplacesTheOldOne(store: TestStore) async throws {
        try await withTestServer(store) { server in
            try await server.addCustomer("alice", cents: 0)
            let newPassword = "a brand new password"
            try await server.withClient { client in
                try await client.login(username: "alice", password: TestServer.password)
                try await client.changePassword(current: TestServer.password, new: newPassword)
            }
            await #expect(throws: IntegraClientError.self) {
                try await server.withClient { try await $0.login(username: "alice", password: TestServer.password) }
            }
            try await server.withClient { try await $0.login(username: "alice", password: newPassword) }
        }
    }

    @Test func garbageOnOneConnectionDoesNotDisturbOthers() async throws {
        try await withTestServer { server in
            try await server.addCustomer("alice", cents: 100)
            var garbage = ByteBuffer()
            garbage.writeBytes((0..<4096).map { _ in UInt8.random(in: 0...255) })
            let code = try await server.withRawSession { session in
                try await session.sendBytes(garbage)
                return try await session.errorCodeThenClose()
            }
            #expect(code != nil, "the server must answer garbage with an error before closing")
            try await server.withClient { client in
                try await client.login(username: "alice", password: TestServer.password)
                #expect(try await client.balance() == "1.00")
            }
        }
    }
}
