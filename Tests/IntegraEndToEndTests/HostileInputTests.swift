import Foundation
import IntegraClient
import IntegraLedger
@testable import IntegraProtocol
@testable import IntegraServer
import IntegraTestSupport
import NIOCore
import Testing

/// The catalogue of hostile input: each case gets a stable error code (or is cut off), writes
/// nothing to the store, and leaves the server serving the next normal client. Frames cut off by
/// the frame timeout are in `ConnectionTimerTests`, where the timer runs on a test's time.
@Suite struct HostileInputTests {
    struct FrameCase: CustomTestStringConvertible, Sendable {
        let name: String
        let expected: ErrorCode
        let send: @Sendable (RawSession) async throws -> Void
        var testDescription: String { self.name }
    }

    static func frame(_ bytes: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: bytes) }

    /// A frame whose length field is followed by `count` bytes of zeros.
    static func announcing(_ length: UInt32, carrying count: Int) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(length)
        buffer.writeRepeatingByte(0, count: count)
        return buffer
    }

    static let frameCases: [FrameCase] = [
        FrameCase(name: "random bytes", expected: .frameTooLarge) { session in
            var bytes: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF]
            bytes += (0..<4092).map { _ in UInt8.random(in: 0...255) }
            try await session.sendBytes(Self.frame(bytes))
        },
        FrameCase(name: "a 10 MB frame", expected: .frameTooLarge) { session in
            try? await session.sendBytes(Self.announcing(10 * 1024 * 1024, carrying: 10 * 1024 * 1024))
        },
        FrameCase(name: "length field announcing fewer bytes than the frame", expected: .malformedFrame) { session in
            try await session.sendBytes(Self.announcing(20, carrying: 200))
        },
        FrameCase(name: "wrong version", expected: .unsupportedVersion) { session in
            try await session.sendCrafted(version: 9, type: MessageType.register.rawValue) { $0.string(1, "mallory"); $0.string(2, "long enough password") }
        },
        FrameCase(name: "unknown type", expected: .unexpectedMessage) { session in
            try await session.sendCrafted(type: 0x7E) { $0.string(1, "mallory") }
        },
        FrameCase(name: "missing field", expected: .malformedMessage) { session in
            try await session.sendCrafted(type: MessageType.register.rawValue) { $0.string(1, "mallory") }
        },
        FrameCase(name: "duplicated field", expected: .malformedMessage) { session in
            try await session.sendCrafted(type: MessageType.register.rawValue) {
                $0.string(1, "mallory"); $0.string(1, "mallory"); $0.string(2, "long enough password")
            }
        },
        FrameCase(name: "extra field", expected: .malformedMessage) { session in
            try await session.sendCrafted(type: MessageType.register.rawValue) {
                $0.string(1, "mallory"); $0.string(2, "long enough password"); $0.string(9, "extra")
            }
        },
        FrameCase(name: "non-UTF-8 name", expected: .malformedMessage) { session in
            try await session.sendCrafted(type: MessageType.register.rawValue) {
                $0.bytes(1, [0x6D, 0xC3, 0x28, 0xFF]); $0.string(2, "long enough password")
            }
        },
        FrameCase(name: "flipped MAC", expected: .authenticationFailed) { session in
            var frame = try session.channel.seal(.register, nowMs: session.clock.nowMs()) { $0.string(1, "mallory"); $0.string(2, "long enough password") }
            let last = frame.writerIndex - 1
            frame.setInteger(frame.getInteger(at: last, as: UInt8.self)! ^ 0x80, at: last)
            try await session.sendBytes(frame)
        },
    ]

    /// Runs `body` with a server that has alice (10.00) and bob.
    private static func withServer(maximumConnectionsPerAddress: Int = 256, _ body: (TestServer) async throws -> Void) async throws {
        try await withTestServer(configure: { $0.maximumConnectionsPerAddress = maximumConnectionsPerAddress }) { server in
            try await server.addCustomer("alice", cents: 1_000)
            try await server.addCustomer("bob", cents: 0)
            try await body(server)
        }
    }

    /// The next normal client is served, and the store holds exactly what it held before.
    private static func expectUndisturbed(_ server: TestServer, before: LedgerSummary) async throws {
        #expect(try await server.store.summary() == before)
        try await server.withClient { client in
            try await client.login(username: "alice", password: TestServer.password)
            #expect(try await client.balance() == "10.00")
        }
    }

    @Test(arguments: Self.frameCases) func hostileFrameGetsItsCodeAndChangesNothing(_ hostile: FrameCase) async throws {
        try await Self.withServer { server in
            let before = try await server.store.summary()
            let code = try await server.withRawSession { session in
                try await hostile.send(session)
                return try await session.errorCodeThenClose()
            }
            #expect(code == hostile.expected, "\(hostile.name)")
            try await Self.expectUndisturbed(server, before: before)
        }
    }

    static let hostileAmounts: [(String, ErrorCode)] = [
        ("NaN", .invalidAmount), ("inf", .invalidAmount), ("-inf", .invalidAmount), ("1e309", .invalidAmount),
        ("-5", .invalidAmount), ("0", .invalidAmount), ("0.001", .invalidAmount), ("1e9", .invalidAmount),
        ("1000000000", .invalidAmount), ("9223372036854775808", .invalidAmount), ("", .invalidAmount),
        (" 1", .invalidAmount), ("1,00", .invalidAmount), ("0x10", .invalidAmount), ("٣", .invalidAmount),
    ]

    @Test func hostileAmountsAreRefusedAndMoveNothing() async throws {
        try await Self.withServer { server in
            let before = try await server.store.summary()
            try await server.withClient { client in
                try await client.login(username: "alice", password: TestServer.password)
                for (amount, expected) in Self.hostileAmounts {
                    do {
                        _ = try await client.transfer(to: "bob", amount: amount, transferID: UUID().uuidString)
                        Issue.record("amount \(amount) was accepted")
                    } catch let error as IntegraClientError {
                        #expect(error.code == expected.rawValue, "amount \(amount): \(error)")
                    }
                }
            }
            try await Self.expectUndisturbed(server, before: before)
        }
    }

    /// Transfers conserve money, so only a deposit can push a balance past Int64: it is refused
    /// and changes nothing; a transfer above the sender's balance is refused too.
    @Test func amountsThatWouldOverflowABalanceAreRefused() async throws {
        try await withTestServer { server in
            try await server.addCustomer("whale", cents: 0)
            try await server.addCustomer("bob", cents: 0)
            _ = try await Administration.deposit(to: "whale", amount: Amount.format(cents: Int64.max - 500), maximumCents: Int64.max, store: server.store)
            let before = try await server.store.summary()
            await #expect(throws: LedgerError.balanceOverflow) {
                _ = try await Administration.deposit(to: "whale", amount: "10.00", maximumCents: Int64.max, store: server.store)
            }
            try await server.withClient { client in
                try await client.login(username: "whale", password: TestServer.password)
                do {
                    _ = try await client.transfer(to: "bob", amount: "1000000.01", transferID: "too-much")
                    Issue.record("a transfer above the maximum amount was accepted")
                } catch let error as IntegraClientError {
                    #expect(error.code == ErrorCode.invalidAmount.rawValue)
                }
            }
            #expect(try await server.store.summary() == before)
        }
    }

    static let hostileNames = [
        "bob\u{0}", "bo\u{7}b", "line\nbreak", "tab\tname", "\u{202E}evil", "ab\u{200F}c", "bob'; DROP TABLE users;--",
        "\" OR 1=1 --", "robert\u{2028}", String(repeating: "a", count: 51), "", " padded ",
    ]

    @Test func hostileNamesCannotRegister() async throws {
        try await Self.withServer { server in
            let before = try await server.store.summary()
            for name in Self.hostileNames {
                do {
                    try await server.withClient { _ = try await $0.register(username: name, password: "long enough password") }
                    Issue.record("name \(name.debugDescription) was registered")
                } catch let error as IntegraClientError {
                    #expect(error.code == ErrorCode.invalidUsername.rawValue, "\(name.debugDescription): \(error)")
                }
            }
            try await Self.expectUndisturbed(server, before: before)
        }
    }

    @Test func hundredsOfIdleConnectionsDoNotStopService() async throws {
        // On loopback every connection shares one address; the per-address limit is raised so
        // that the 300 idle connections are all accepted and held.
        try await Self.withServer(maximumConnectionsPerAddress: 1_000) { server in
            var idle: [any Channel] = []
            for _ in 0..<300 { idle.append(try await server.connectIdle()) }
            try await server.withClient { client in
                try await client.login(username: "alice", password: TestServer.password)
                _ = try await client.transfer(to: "bob", amount: "1.00", transferID: "while-idle")
            }
            for channel in idle { try? await channel.close() }
        }
    }
}

/// Limits on connections, sessions and logins, seen from the outside.
@Suite struct ServerLimitTests {
    @Test func connectionsBeyondThePerAddressLimitAreClosed() async throws {
        try await withTestServer(configure: {
            $0.maximumConnectionsPerAddress = 3
            $0.handshakeTimeoutMs = 600_000  // the held connections send no frame
        }) { server in
            /// Opens a connection, reads its hello and holds it while `body` runs.
            func holding(_ body: () async throws -> Void) async throws {
                try await server.connectRaw().executeThenClose { inbound, _ in
                    var frames = inbound.makeAsyncIterator()
                    #expect(try await frames.next() != nil, "a connection within the limit gets its hello")
                    try await body()
                }
            }
            try await holding {
                try await holding {
                    try await holding {
                        let refusedHello = try await server.connectRaw().executeThenClose { inbound, _ in
                            var frames = inbound.makeAsyncIterator()
                            return try? await frames.next()
                        }
                        #expect(refusedHello == nil, "the fourth connection from one address must be closed")
                    }
                    // One of the three is closed: once the server has seen it go, a new one is served.
                    await server.deployment.server.openConnections.wait(until: { $0 <= 2 })
                    try await server.addCustomer("alice", cents: 0)
                    try await server.withClient { try await $0.login(username: "alice", password: TestServer.password) }
                }
            }
        }
    }

    @Test func sessionThatExceedsItsRequestRateIsToldToSlowDownAndSurvives() async throws {
        let clock = ManualClock()
        try await withTestServer(configure: {
            $0.requestsPerSecond = 1
            $0.requestBurst = 3
            $0.clock = clock.wallClock
        }) { server in
            try await server.addCustomer("alice", cents: 100)
            try await server.withClient { client in
                try await client.login(username: "alice", password: TestServer.password)
                // The server's clock stands still: no token comes back until the test moves it.
                var limited = false
                for _ in 0..<30 where !limited {
                    do {
                        _ = try await client.balance()
                    } catch let error as IntegraClientError where error.code == ErrorCode.rateLimited.rawValue {
                        limited = true
                    }
                }
                #expect(limited)
                clock.advance(byMs: 1_100)
                #expect(try await client.balance() == "1.00", "the session stays usable")
            }
        }
    }

    @Test func loginStormIsShedWithServerBusyAndServiceContinues() async throws {
        try await withTestServer(configure: {
            $0.passwordHashingThreads = 1
            $0.maximumPendingPasswordJobs = 1
        }) { server in
            try await server.addCustomer("alice", cents: 100)
            let codes = await withTaskGroup(of: UInt16?.self) { group in
                for _ in 0..<12 {
                    group.addTask {
                        do {
                            try await server.withClient { try await $0.login(username: "alice", password: TestServer.password) }
                            return nil
                        } catch let error as IntegraClientError {
                            return error.code
                        } catch {
                            return 0
                        }
                    }
                }
                var codes: [UInt16?] = []
                for await code in group { codes.append(code) }
                return codes
            }
            #expect(codes.contains(ErrorCode.serverBusy.rawValue), "\(codes)")
            #expect(codes.contains(nil), "some logins of the storm succeed")
            #expect(codes.allSatisfy { $0 == nil || $0 == ErrorCode.serverBusy.rawValue }, "\(codes)")
            try await server.withClient { try await $0.login(username: "alice", password: TestServer.password) }
        }
    }

    @Test func guessingAKnownOrAnUnknownAccountIsThrottledAlike() async throws {
        // The server's clock stands still, so that no backoff can pass while passwords are checked.
        try await withTestServer(configure: { $0.clock = ManualClock().wallClock }) { server in
            try await server.addCustomer("alice", cents: 0)
            var answers: [String: [String]] = [:]
            for name in ["alice", "nobody"] {
                for _ in 0..<6 {
                    do {
                        try await server.withClient { try await $0.login(username: name, password: "not the password") }
                    } catch let error as IntegraClientError {
                        answers[name, default: []].append(error.name)
                    }
                }
            }
            let expected = Array(repeating: "invalid_credentials", count: 5) + ["too_many_attempts"]
            #expect(answers["alice"] == expected)
            #expect(answers["nobody"] == expected)
            // The right password is refused too while the account is throttled.
            await #expect(throws: IntegraClientError.self) {
                try await server.withClient { try await $0.login(username: "alice", password: TestServer.password) }
            }
        }
    }

    @Test func auditTrailRecordsTransfersAndRejectionsWithoutSecrets() async throws {
        try await withTestServer { server in
            try await server.addCustomer("alice", cents: 1_000)
            try await server.addCustomer("bob", cents: 0)
            let secret = "a guessed password 123"
            await #expect(throws: IntegraClientError.self) {
                try await server.withClient { try await $0.login(username: "alice", password: secret) }
            }
            try await server.withClient { client in
                try await client.login(username: "alice", password: TestServer.password)
                _ = try await client.transfer(to: "bob", amount: "2.00", transferID: "audited-1")
            }
            _ = try await server.withRawSession { session in
                var garbage = ByteBuffer()
                garbage.writeBytes([0, 0, 0, 80, 1] + Array(repeating: UInt8(7), count: 79))
                try await session.sendBytes(garbage)
                return try await session.errorCodeThenClose()
            }
            server.deployment.server.auditTrail.flush()
            let directory = server.directory.appendingPathComponent("audit")
            let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            let transfers = try #require(files.first { $0.hasPrefix("transfers-") })
            let rejections = try #require(files.first { $0.hasPrefix("rejections-") })
            let transferLines = try String(contentsOf: directory.appendingPathComponent(transfers), encoding: .utf8).split(separator: "\n")
            let rejectionLines = try String(contentsOf: directory.appendingPathComponent(rejections), encoding: .utf8).split(separator: "\n")
            let transfer = try #require(try transferLines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }.first { $0?["transfer_id"] as? String == "audited-1" } ?? nil)
            #expect(transfer["from"] as? String == "alice" && transfer["to"] as? String == "bob" && transfer["amount"] as? String == "2.00")
            #expect((transfer["peer"] as? String)?.contains("127.0.0.1") == true)
            let codes = try rejectionLines.compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }.compactMap { $0["code"] as? String }
            #expect(codes.contains("invalid_credentials"))
            #expect(codes.contains("authentication_failed"))
            let clientKey = try server.clientConfiguration.clientKey
            for file in files {
                let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
                #expect(!text.contains(secret) && !text.contains(TestServer.password) && !text.contains(clientKey))
            }
        }
    }
}
