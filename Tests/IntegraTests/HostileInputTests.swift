import Foundation
import IntegraClient
import IntegraLedger
@testable import IntegraProtocol
@testable import IntegraServer
import NIOCore
import NIOPosix
import Testing

/// The catalogue of hostile input: each case gets a stable error code (or is cut off), writes
/// nothing to the store, and leaves the server serving the next normal client.
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
        FrameCase(name: "length field announcing more bytes than sent (cut off by the frame timeout)", expected: .timeout) { session in
            try await session.sendBytes(Self.announcing(500, carrying: 100))
        },
        FrameCase(name: "truncated frame", expected: .timeout) { session in
            var frame = try session.channel.seal(.register, nowMs: WallClock.nowMs()) { $0.string(1, "mallory"); $0.string(2, "long enough password") }
            try await session.sendBytes(frame.readSlice(length: frame.readableBytes / 2)!)
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
            var frame = try session.channel.seal(.register, nowMs: WallClock.nowMs()) { $0.string(1, "mallory"); $0.string(2, "long enough password") }
            let last = frame.writerIndex - 1
            frame.setInteger(frame.getInteger(at: last, as: UInt8.self)! ^ 0x80, at: last)
            try await session.sendBytes(frame)
        },
    ]

    private static func startServer(maximumConnectionsPerAddress: Int = 256) async throws -> TestServer {
        let server = try await TestServer.start {
            $0.frameTimeoutMs = 500
            $0.maximumConnectionsPerAddress = maximumConnectionsPerAddress
        }
        try await server.addCustomer("alice", cents: 1_000)
        try await server.addCustomer("bob", cents: 0)
        return server
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
        let server = try await Self.startServer()
        defer { Task { await server.stop() } }
        let before = try await server.store.summary()
        let code = try await server.withRawSession { session in
            try await hostile.send(session)
            return try await session.errorCodeThenClose()
        }
        #expect(code == hostile.expected, "\(hostile.name)")
        try await Self.expectUndisturbed(server, before: before)
    }

    static let hostileAmounts: [(String, ErrorCode)] = [
        ("NaN", .invalidAmount), ("inf", .invalidAmount), ("-inf", .invalidAmount), ("1e309", .invalidAmount),
        ("-5", .invalidAmount), ("0", .invalidAmount), ("0.001", .invalidAmount), ("1e9", .invalidAmount),
        ("1000000000", .invalidAmount), ("9223372036854775808", .invalidAmount), ("", .invalidAmount),
        (" 1", .invalidAmount), ("1,00", .invalidAmount), ("0x10", .invalidAmount), ("٣", .invalidAmount),
    ]

    @Test func hostileAmountsAreRefusedAndMoveNothing() async throws {
        let server = try await Self.startServer()
        defer { Task { await server.stop() } }
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

    /// Transfers conserve money, so only a deposit can push a balance past Int64: it is refused
    /// and changes nothing; a transfer above the sender's balance is refused too.
    @Test func amountsThatWouldOverflowABalanceAreRefused() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
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

    static let hostileNames = [
        "bob\u{0}", "bo\u{7}b", "line\nbreak", "tab\tname", "\u{202E}evil", "ab\u{200F}c", "bob'; DROP TABLE users;--",
        "\" OR 1=1 --", "robert\u{2028}", String(repeating: "a", count: 51), "", " padded ",
    ]

    @Test func hostileNamesCannotRegister() async throws {
        let server = try await Self.startServer()
        defer { Task { await server.stop() } }
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

    @Test func hundredsOfIdleConnectionsDoNotStopService() async throws {
        // On loopback every connection shares one address; the per-address limit is raised so
        // that the 300 idle connections are all accepted and held.
        let server = try await Self.startServer(maximumConnectionsPerAddress: 1_000)
        defer { Task { await server.stop() } }
        var idle: [any Channel] = []
        for _ in 0..<300 { idle.append(try await server.connectIdle()) }
        try await server.withClient { client in
            try await client.login(username: "alice", password: TestServer.password)
            _ = try await client.transfer(to: "bob", amount: "1.00", transferID: "while-idle")
        }
        for channel in idle { try? await channel.close() }
    }
}

/// Limits on connections, sessions and logins, seen from the outside.
@Suite struct ServerLimitTests {
    @Test func connectionsBeyondThePerAddressLimitAreClosed() async throws {
        let server = try await TestServer.start {
            $0.maximumConnectionsPerAddress = 3
            $0.handshakeTimeoutMs = 600_000  // the held connections send no frame
        }
        defer { Task { await server.stop() } }
        /// Opens a connection and holds it (hello read) until `release` is cancelled.
        func hold() async throws -> (gotHello: Bool, task: Task<Void, any Error>) {
            let channel = try await server.connectRaw()
            let (stream, continuation) = AsyncStream.makeStream(of: Bool.self)
            let task = Task {
                try await channel.executeThenClose { inbound, _ in
                    var frames = inbound.makeAsyncIterator()
                    let hello = try? await frames.next()
                    continuation.yield(hello != nil)
                    continuation.finish()
                    if hello != nil { try await Task.sleep(for: .seconds(60)) }
                }
            }
            var iterator = stream.makeAsyncIterator()
            return (await iterator.next() ?? false, task)
        }
        var held: [Task<Void, any Error>] = []
        for _ in 0..<3 {
            let (gotHello, task) = try await hold()
            #expect(gotHello, "a connection within the limit gets its hello")
            held.append(task)
        }
        let (refusedGotHello, refused) = try await hold()
        #expect(!refusedGotHello, "the fourth connection from one address must be closed")
        refused.cancel()
        held.removeFirst().cancel()
        try await Task.sleep(for: .milliseconds(200))
        try await server.addCustomer("alice", cents: 0)
        try await server.withClient { try await $0.login(username: "alice", password: TestServer.password) }
        for task in held { task.cancel() }
    }

    @Test func silentConnectionIsClosedAfterTheHandshakeTimeout() async throws {
        let server = try await TestServer.start { $0.handshakeTimeoutMs = 300 }
        defer { Task { await server.stop() } }
        // Plain TCP to the TLS port, never starting the handshake.
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: server.port).get()
        let closed = Task { try await channel.closeFuture.get(); return true }
        let deadline = Task { try await Task.sleep(for: .seconds(30)); return false }
        let result = try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask { try await closed.value }
            group.addTask { try await deadline.value }
            defer { group.cancelAll() }
            return try await group.next()!
        }
        #expect(result, "the server must close a connection that never completes its handshake")
        try? await channel.close()
    }

    @Test func sessionThatExceedsItsRequestRateIsToldToSlowDownAndSurvives() async throws {
        let server = try await TestServer.start {
            $0.requestsPerSecond = 1
            $0.requestBurst = 3
        }
        defer { Task { await server.stop() } }
        try await server.addCustomer("alice", cents: 100)
        try await server.withClient { client in
            try await client.login(username: "alice", password: TestServer.password)
            // One token a second refills far slower than requests answer, even on a loaded machine.
            var limited = false
            for _ in 0..<30 where !limited {
                do {
                    _ = try await client.balance()
                } catch let error as IntegraClientError where error.code == ErrorCode.rateLimited.rawValue {
                    limited = true
                }
            }
            #expect(limited)
            try await Task.sleep(for: .milliseconds(1_100))
            #expect(try await client.balance() == "1.00", "the session stays usable")
        }
    }

    @Test func loginStormIsShedWithServerBusyAndServiceContinues() async throws {
        let server = try await TestServer.start {
            $0.passwordHashingThreads = 1
            $0.maximumPendingPasswordJobs = 1
        }
        defer { Task { await server.stop() } }
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

    @Test func guessingAKnownOrAnUnknownAccountIsThrottledAlike() async throws {
        // A long first backoff, so that slow password checks cannot outlast it.
        let server = try await TestServer.start { $0.loginThrottle.initialBackoffMs = 60_000 }
        defer { Task { await server.stop() } }
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

    @Test func auditTrailRecordsTransfersAndRejectionsWithoutSecrets() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
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

    @Test func auditLinesEscapeControlAndBidirectionalCharacters() throws {
        var line = ""
        AuditTrail.appendJSONString("a\"b\\c\n\u{1}\u{202E}\u{2066}é", to: &line)
        #expect(line == #""a\"b\\c\n\u0001\u202e\u2066é""#)
        let decoded = try JSONSerialization.jsonObject(with: Data("[\(line)]".utf8)) as? [String]
        #expect(decoded == ["a\"b\\c\n\u{1}\u{202E}\u{2066}é"])
    }
}
