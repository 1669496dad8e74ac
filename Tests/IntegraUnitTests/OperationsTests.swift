import CoreMetrics
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
@testable import IntegraAdmin
import IntegraLedger
@testable import IntegraProtocol
@testable import IntegraServer
import Logging
import IntegraTestSupport
import Testing

/// The operations side without sockets: the admin token, the admin listener's configuration,
/// readiness, the 15-minute window, the status JSON, the metrics' names and the JSON log lines.
@Suite struct OperationsTests {
    static let token = "s3cret-admin-token-0123456789"

    @Test func adminTokenAcceptsOnlyTheBearerTokenOfItsFile() throws {
        let token = try AdminToken(fileText: "\(Self.token)\n")
        #expect(token.accepts(authorization: "Bearer \(Self.token)"))
        #expect(!token.accepts(authorization: "Bearer \(Self.token)x"))
        #expect(!token.accepts(authorization: "Bearer wrong-token-0123456789"))
        #expect(!token.accepts(authorization: "Basic \(Self.token)"))
        #expect(!token.accepts(authorization: Self.token))
        #expect(!token.accepts(authorization: nil))
    }

    @Test func adminTokenFilesWithShortOrBlankTokensAreRefused() {
        #expect(throws: AdminConfigurationError.self) { try AdminToken(fileText: "short") }
        #expect(throws: AdminConfigurationError.self) { try AdminToken(fileText: "   \n") }
        #expect(throws: AdminConfigurationError.self) { try AdminToken(fileText: "has a space in the middle of it") }
    }

    @Test func adminListenerOffLoopbackNeedsATokenAndTLS() throws {
        #expect(throws: Never.self) { try AdminConfiguration(host: "127.0.0.1", port: 9464).validate() }
        #expect(throws: Never.self) { try AdminConfiguration(host: "::1", port: 9464).validate() }
        let noToken = AdminConfiguration(host: "0.0.0.0", port: 9464, tlsCertificatePath: "c.pem", tlsKeyPath: "k.pem")
        #expect(throws: AdminConfigurationError.self) { try noToken.validate() }
        let noTLS = AdminConfiguration(host: "10.1.2.3", port: 9464, token: try AdminToken(fileText: Self.token))
        #expect(throws: AdminConfigurationError.self) { try noTLS.validate() }
        let both = AdminConfiguration(host: "10.1.2.3", port: 9464, token: try AdminToken(fileText: Self.token), tlsCertificatePath: "c.pem", tlsKeyPath: "k.pem")
        #expect(throws: Never.self) { try both.validate() }
    }

    @Test func adminTokenFileReadableByOthersIsRefused() throws {
        let directory = TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(directory) }
        let path = directory.appendingPathComponent("admin-token").path
        _ = FileManager.default.createFile(atPath: path, contents: Data(Self.token.utf8), attributes: [.posixPermissions: 0o644])
        #expect(throws: AdminConfigurationError.self) { try AdminConfiguration.readToken(path: path) }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        let token = try AdminConfiguration.readToken(path: path)
        #expect(token.accepts(authorization: "Bearer \(Self.token)"))
    }

    static func alarm(_ id: String = "A-test2345") -> AlarmRecord {
        AlarmRecord(id: id, kind: "balance-changed", detail: "account 7 holds 10.01 but its entries add up to 10.00", raisedAtMs: 1_000)
    }

    @Test func readinessNamesTheFirstReasonAndRecovers() {
        var state = OperationalState(headPosition: 12)
        #expect(Readiness(state) == .ready)
        state.headPosition = nil
        #expect(Readiness(state) == .notReady(reason: "the store is unreachable"))
        state.headPosition = 12
        state.openAlarms = [Self.alarm()]
        #expect(Readiness(state) == .notReady(reason: "integrity alarm A-test2345 is open: balance-changed"))
        state.openAlarms = []
        state.shuttingDown = true
        #expect(Readiness(state) == .notReady(reason: "shutting down"))
        state.shuttingDown = false
        state.keysLoaded = false
        #expect(Readiness(state) != .ready)
    }

    static func snapshot(committed: Int, requests: Int, latencyBucket: Int) -> ActivityTally.Snapshot {
        var buckets = [Int](repeating: 0, count: ActivityTally.latencyBucketBoundsMicroseconds.count + 1)
        buckets[latencyBucket] = requests
        return ActivityTally.Snapshot(transfersCommitted: committed, transfersRefused: 0, requests: requests, latencyBuckets: buckets, framesRejected: [:])
    }

    @Test func rollingWindowChartsDifferencesAndForgetsWhatIsOlderThanTheWindow() {
        var window = RollingWindow(windowMs: 10_000, intervalMs: 2_000)
        window.add(Self.snapshot(committed: 100, requests: 100, latencyBucket: 3), atMs: 0)
        #expect(window.series.isEmpty)
        window.add(Self.snapshot(committed: 140, requests: 140, latencyBucket: 3), atMs: 2_000)
        #expect(window.series.count == 1)
        #expect(window.series[0].transfersCommitted == 40)
        #expect(window.series[0].transfersPerSecond == 20)
        #expect(window.series[0].latencyBuckets[3] == 40)
        for second in stride(from: 4_000, through: 20_000, by: 2_000) {
            window.add(Self.snapshot(committed: 140 + second / 100, requests: 140, latencyBucket: 3), atMs: Int64(second))
        }
        #expect(window.series.allSatisfy { $0.endMs > 10_000 })
        #expect(window.series.count <= window.maximumPoints)
        // A clock that went back adds nothing.
        let before = window.series
        window.add(Self.snapshot(committed: 1_000, requests: 140, latencyBucket: 3), atMs: 5_000)
        #expect(window.series == before)
    }

    @Test func latencyQuantilesComeFromTheBucketBounds() {
        let bounds = ActivityTally.latencyBucketBoundsMicroseconds
        var buckets = [Int](repeating: 0, count: bounds.count + 1)
        buckets[2] = 90
        buckets[10] = 10
        #expect(RollingWindow.latencyMs(quantile: 0.5, buckets: buckets) == Double(bounds[2]) / 1_000)
        #expect(RollingWindow.latencyMs(quantile: 0.99, buckets: buckets) == Double(bounds[10]) / 1_000)
        #expect(RollingWindow.latencyMs(quantile: 0.5, buckets: [Int](repeating: 0, count: buckets.count)) == nil)
        #expect(ActivityTally.bucket(ofNanoseconds: 0) == 0)
        #expect(ActivityTally.bucket(ofNanoseconds: bounds[5] * 1_000) == 5)
        #expect(ActivityTally.bucket(ofNanoseconds: (bounds[5] + 1) * 1_000) == 6)
        #expect(ActivityTally.bucket(ofNanoseconds: .max) == bounds.count)
    }

    @Test func statusJSONCarriesHeadCheckpointAlarmsAndChartPoints() throws {
        var window = RollingWindow(windowMs: 60_000, intervalMs: 2_000)
        window.add(Self.snapshot(committed: 0, requests: 0, latencyBucket: 4), atMs: 10_000)
        window.add(Self.snapshot(committed: 50, requests: 50, latencyBucket: 4), atMs: 12_000)
        let checkpoint = LedgerCheckpoint(position: 40, chainHash: [], createdAtMs: 2_000, signature: [])
        let state = OperationalState(headPosition: 42, verifiedPosition: 42, lastCheckpoint: checkpoint, openConnections: 3, sessions: 2, openAlarms: [Self.alarm()])
        let status = OperatorStatus(state: state, activity: Self.snapshot(committed: 50, requests: 50, latencyBucket: 4), window: window, nowMs: 12_000)
        let decoded = try JSONDecoder().decode(OperatorStatus.self, from: Data(status.json()))
        #expect(decoded == status)
        #expect(decoded.headPosition == 42)
        #expect(decoded.lastCheckpoint?.ageSeconds == 10)
        #expect(!decoded.ready)
        #expect(decoded.alarms.first?.acknowledgeCommand == "integra-server alarms acknowledge A-test2345 --reason TEXT")
        #expect(decoded.series.count == 1)
        #expect(decoded.series[0].transfersPerSecond == 25)
        let text = String(decoding: status.json(), as: UTF8.self)
        #expect(!text.contains("password") && !text.contains("key"))
    }

    static func report(_ request: ServerRequest?, error: ErrorCode?) -> ServerConnectionStateMachine.Report {
        ServerConnectionStateMachine.Report(request: request, error: error.map { ProtocolError($0, "test") }, throttle: nil, message: nil)
    }

    @Test func serverMetricsCountTransfersRefusalsLoginsAndRejectedFrames() {
        let exporter = MetricsExporter()
        let metrics = exporter.serverMetrics
        let session = SessionIdentity(userID: 1, username: "alice", credentialVersion: 1)
        let transfer = ServerRequest.transfer(session, transferID: "t1", recipient: "bob", amount: "1.00")
        metrics.answered(Self.report(transfer, error: nil), durationNanoseconds: 2_000_000)
        metrics.answered(Self.report(transfer, error: nil), durationNanoseconds: 3_000_000)
        metrics.answered(Self.report(transfer, error: .insufficientFunds), durationNanoseconds: 1_000_000)
        metrics.answered(Self.report(.login(username: "alice", password: "x"), error: .invalidCredentials), durationNanoseconds: 1_000)
        metrics.answered(Self.report(.login(username: "alice", password: "x"), error: .tooManyAttempts), durationNanoseconds: 1_000)
        metrics.answered(Self.report(nil, error: .authenticationFailed), durationNanoseconds: nil)
        metrics.answered(Self.report(nil, error: .replayDetected), durationNanoseconds: nil)
        metrics.groupCommitted(batchSize: 3, nanoseconds: 1_000_000, failed: false)
        let text = String(decoding: exporter.scrape(OperationalState(headPosition: 9, openAlarms: [Self.alarm()]), nowMs: 0), as: UTF8.self)
        // Sample lines by series: "name{labels} value".
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            samples[String(line[..<space])] = value
        }
        #expect(samples["integra_transfers_committed_total"] == 2)
        #expect(samples[#"integra_transfers_refused_total{code="insufficient_funds"}"#] == 1)
        #expect(samples[#"integra_logins_total{result="failed"}"#] == 1)
        #expect(samples[#"integra_logins_total{result="throttled"}"#] == 1)
        #expect(samples[#"integra_frames_rejected_total{reason="mac"}"#] == 1)
        #expect(samples[#"integra_frames_rejected_total{reason="replay"}"#] == 1)
        #expect(samples[#"integra_request_duration_seconds_count{kind="transfer"}"#] == 3)
        #expect(samples["integra_group_commit_batch_size_count"] == 1)
        #expect(samples["integra_integrity_alarms_open"] == 1)
        #expect(samples["integra_ledger_head_position"] == 9)
        #expect(samples["integra_ready"] == 0)
        let activity = metrics.activity.snapshot()
        #expect(activity.transfersCommitted == 2 && activity.transfersRefused == 1 && activity.framesRejected["mac"] == 1)
    }

    @Test func jsonLogLinesAreOneObjectWithLevelTimeLabelAndMetadata() throws {
        let line = JSONLogHandler.line(
            time: Date(timeIntervalSince1970: 1_700_000_000.123), level: .warning, label: "integra.server", message: "connection refused",
            metadata: ["peer": "127.0.0.1:5000", "reason": .stringConvertible(42)])
        #expect(line.hasSuffix("\n") && line.dropLast().firstIndex(of: "\n") == nil)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["level"] as? String == "warning")
        #expect(object["label"] as? String == "integra.server")
        #expect(object["message"] as? String == "connection refused")
        #expect(object["time"] as? String == "2023-11-14T22:13:20.123Z")
        let metadata = try #require(object["metadata"] as? [String: Any])
        #expect(metadata["peer"] as? String == "127.0.0.1:5000")
        #expect(metadata["reason"] as? String == "42")
    }
}
