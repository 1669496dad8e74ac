import Foundation
@testable import IntegraBench
import IntegraClient
import IntegraLedger
import IntegraProtocol
import Testing

@Suite struct RateScheduleTests {
    @Test func sessionsShareTheTotalRateEvenly() {
        let schedule = RateSchedule(totalRatePerSecond: 1000, sessions: 10, sessionIndex: 0)
        #expect(schedule.intervalNs == 10_000_000)
        #expect(schedule.dueCount(before: 1_000_000_000) == 100)
    }

    @Test func sessionsAreStaggeredAcrossOneInterval() {
        let offsets = (0..<4).map { RateSchedule(totalRatePerSecond: 400, sessions: 4, sessionIndex: $0).offsetNs }
        #expect(offsets == [0, 2_500_000, 5_000_000, 7_500_000])
    }

    @Test func dueTimesAdvanceByTheIntervalFromTheOffset() {
        let schedule = RateSchedule(totalRatePerSecond: 200, sessions: 2, sessionIndex: 1)
        #expect(schedule.dueNs(0) == schedule.offsetNs)
        #expect(schedule.dueNs(3) == schedule.offsetNs + 3 * schedule.intervalNs)
        #expect(schedule.dueCount(before: schedule.offsetNs) == 0)
        #expect(schedule.dueCount(before: schedule.offsetNs + 1) == 1)
        #expect(schedule.dueCount(before: schedule.dueNs(5) + 1) == 6)
    }

    @Test func allSessionsTogetherSendTheTotalRate() {
        let sessions = 7
        let total = (0..<sessions).map { RateSchedule(totalRatePerSecond: 7000, sessions: sessions, sessionIndex: $0).dueCount(before: 2_000_000_000) }.reduce(0, +)
        #expect(total == 14_000)
    }
}

@Suite struct LatencyRecorderTests {
    @Test func percentilesComeFromTheRecordedLatencies() {
        var recorder = LatencyRecorder()
        for millisecond in 1...1000 { recorder.record(latencyNs: Int64(millisecond) * 1_000_000) }
        let summary = recorder.summary(elapsedSeconds: 2)
        #expect(summary.completed == 1000)
        #expect(summary.throughputPerSecond == 500)
        #expect(abs(summary.p50Ms - 500) <= 1)
        #expect(abs(summary.p99Ms - 990) <= 1)
        #expect(abs(summary.p999Ms - 999) <= 1)
        #expect(abs(summary.maxMs - 1000) <= 1)
    }

    @Test func mergingAddsSamplesAndErrors() {
        var first = LatencyRecorder()
        var second = LatencyRecorder()
        first.record(latencyNs: 1_000_000)
        first.recordError("server_busy")
        second.record(latencyNs: 3_000_000)
        second.recordError("server_busy")
        second.recordError("timeout")
        first.merge(second)
        #expect(first.completed == 2)
        #expect(first.errors == ["server_busy": 2, "timeout": 1])
        #expect(first.errorCount == 3)
    }

    @Test func anEmptyRecorderReportsZeroes() {
        let summary = LatencyRecorder().summary(elapsedSeconds: 1)
        #expect(summary.completed == 0 && summary.p99Ms == 0 && summary.maxMs == 0)
    }

    @Test func latenciesAboveOneMinuteCountAsOneMinute() {
        var recorder = LatencyRecorder()
        recorder.record(latencyNs: 3_600_000_000_000)
        #expect(recorder.completed == 1)
        #expect(abs(recorder.percentileMs(100) - 60_000) < 60)
    }

    @Test func theTimelineKeepsOneHistogramPerSecond() {
        let timeline = Timeline(capacitySeconds: 5)
        var buffer = TimelineBuffer(timeline: timeline)
        buffer.record(latencyNs: 2_000_000, elapsedNs: 100_000_000)
        buffer.record(latencyNs: 4_000_000, elapsedNs: 900_000_000)
        buffer.record(latencyNs: 8_000_000, elapsedNs: 2_500_000_000)
        buffer.flush()
        let points = timeline.points()
        #expect(points.map(\.completed) == [2, 0, 1])
        #expect(abs(points[2].p99Ms - 8) < 0.1)
    }
}

@Suite struct BenchReportTests {
    static func report(workload: Workload = .sessions, throughput: Double = 500, p99Ms: Double = 4, baseline: Double? = 1000) -> BenchReport {
        let summary = LatencySummary(completed: 5000, throughputPerSecond: throughput, p50Ms: 1, p90Ms: 2, p99Ms: p99Ms, p999Ms: 8, maxMs: 9, meanMs: 1.5, errors: ["server_busy": 2])
        return BenchReport(
            workload: workload, store: "sqlite", mode: "closed", sessions: 64, durationSeconds: 10, targetRatePerSecond: nil,
            result: summary, baseline: baseline.map { BenchReport.Baseline(kind: "echo_throughput_per_s", value: $0) }, cores: 2)
    }

    static func decode(_ line: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    @Test func theJSONIsOneLineWithTheRequiredKeys() throws {
        let line = Self.report().jsonLine()
        #expect(!line.contains("\n"))
        let object = try Self.decode(line)
        for key in ["throughput_per_s", "p50_ms", "p99_ms", "p999_ms", "baseline_ratio", "workload", "store", "sessions", "duration_s", "errors", "baseline_value"] {
            #expect(object[key] != nil, "missing \(key)")
        }
        #expect(object["throughput_per_s"] as? Double == 500)
        #expect(object["errors"] as? [String: Int] == ["server_busy": 2])
    }

    @Test func theRatioOfThroughputWorkloadsIsResultOverBaseline() throws {
        #expect(Self.report(throughput: 500, baseline: 1000).baselineRatio == 0.5)
        #expect(Self.report(workload: .seed, throughput: 8, baseline: 10).baselineRatio == 0.8)
        let object = try Self.decode(Self.report(throughput: 500, baseline: 1000).jsonLine())
        #expect(object["baseline_ratio"] as? Double == 0.5)
    }

    @Test func theStormRatioIsHowMuchTheP99Rose() {
        #expect(Self.report(workload: .storm, p99Ms: 6, baseline: 3).baselineRatio == 2)
    }

    @Test func withoutABaselineTheRatioIsNull() throws {
        let object = try Self.decode(Self.report(baseline: nil).jsonLine())
        #expect(object["baseline_ratio"] is NSNull)
    }

    @Test func thePlotHasBothPanelsAndALinePerSeries() {
        var report = Self.report()
        report.sweep = [
            .init(sessions: 1, throughputPerSecond: 100, p99Ms: 1, echoThroughputPerSecond: 200),
            .init(sessions: 4, throughputPerSecond: 300, p99Ms: 2, echoThroughputPerSecond: 600),
        ]
        report.timeline = [TimelinePoint(second: 0, completed: 10, p50Ms: 1, p99Ms: 3), TimelinePoint(second: 1, completed: 12, p50Ms: 1, p99Ms: 2)]
        let svg = SVGPlot.render(report, title: "a <test>")
        #expect(svg.hasPrefix("<svg"))
        #expect(svg.contains("a &lt;test&gt;"))
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 4)
    }
}

@Suite struct BenchOptionsTests {
    @Test func theDefaultsAreValid() throws {
        try BenchOptions().validate()
    }

    @Test func aSweepIsParsedInOrder() throws {
        #expect(try BenchOptions.parseSweep("1,4,16,64") == [1, 4, 16, 64])
        #expect(try BenchOptions.parseSweep(" 2, 8") == [2, 8])
    }

    @Test(arguments: ["", "1,,4", "0", "4,x", "5000", Array(repeating: "1", count: 17).joined(separator: ",")])
    func aBadSweepIsRefused(_ text: String) {
        #expect(throws: BenchUsageError.self) { try BenchOptions.parseSweep(text) }
    }

    @Test func aRateIsANumberOrHalfPeak() throws {
        #expect(try RateSetting.parse("2500") == .perSecond(2500))
        #expect(try RateSetting.parse("half-peak") == .halfPeak)
        for bad in ["0", "-5", "fast", "nan", "inf"] {
            #expect(throws: BenchUsageError.self) { try RateSetting.parse(bad) }
        }
    }

    @Test func refusedCombinations() {
        func refused(_ change: (inout BenchOptions) -> Void) -> Bool {
            var options = BenchOptions()
            change(&options)
            do { try options.validate(); return false } catch { return true }
        }
        #expect(refused { $0.sessions = 0 })
        #expect(refused { $0.durationSeconds = 0.1 })
        #expect(refused { $0.workload = .seed; $0.sweep = [1, 2] })
        #expect(refused { $0.sweep = [1, 2]; $0.rate = .perSecond(100) })
        #expect(refused { $0.workload = .seed; $0.rate = .halfPeak })
        #expect(refused { $0.store = .mariadb })
        #expect(refused { $0.database = "mariadb://u:p@127.0.0.1:3306/d" })
        #expect(refused { $0.server = "127.0.0.1:8080" })
        #expect(refused { $0.configPath = "client.json" })
        #expect(refused { $0.bcryptCost = 4 })
        #expect(refused { $0.users = 1 })
        #expect(refused { $0.stormConnections = 0 })
        #expect(refused { $0.workload = .seed; $0.request = .balance })
    }

    @Test func acceptedCombinations() throws {
        var mariadb = BenchOptions()
        mariadb.store = .mariadb
        mariadb.database = "mariadb://integra:secret@127.0.0.1:3306/integra_bench"
        try mariadb.validate()
        var existing = BenchOptions()
        existing.server = "127.0.0.1:8080"
        existing.configPath = "client.json"
        existing.credentialsPath = "users.txt"
        try existing.validate()
        var sweep = BenchOptions()
        sweep.sweep = [1, 4, 16, 64]
        try sweep.validate()
        #expect(sweep.sessionCounts == [1, 4, 16, 64])
        #expect(sweep.userCount == 64)
        var reads = BenchOptions()
        reads.request = .balance
        try reads.validate()
    }

    @Test func credentialsAreNamePasswordLines() throws {
        let credentials = try Credential.parse("# customers\nalice pass word\n\nbob secret\n")
        #expect(credentials == [Credential(username: "alice", password: "pass word"), Credential(username: "bob", password: "secret")])
        #expect(throws: BenchUsageError.self) { try Credential.parse("alice only-one-customer\n") }
        #expect(throws: BenchUsageError.self) { try Credential.parse("alice\nbob x\n") }
    }

    @Test func recipientsAreNeverTheSenderAndReachEveryoneElse() throws {
        let credentials = (0..<5).map { Credential(username: "u\($0)", password: "p") }
        let configuration = ClientConfiguration(server: "127.0.0.1:1", clientKey: ProtocolFixtures.clientKey, serverIdentityKey: ProtocolFixtures.identityKey.publicKey)
        let target = TransferTarget(configuration: configuration, address: "127.0.0.1:1", credentials: credentials, timeoutMs: 1000)
        for sender in 0..<5 {
            let recipients = Set((0..<8).map { target.recipient(senderIndex: sender, counter: Int64($0)).username })
            #expect(!recipients.contains("u\(sender)"))
            #expect(recipients.count == 4)
        }
        #expect(target.transferID("integra", session: 4095, counter: Int64.max).utf8.count <= 64)
    }

    @Test func theBcryptLimitIsCoresOverVerifyTime() {
        #expect(BcryptLimit(verifyMs: 250, cores: 2).loginsPerSecond == 8)
    }
}

@Suite struct CPUTimeTests {
    @Test func userAndSystemTimeAreReadAfterTheCommandName() throws {
        let stat = "4242 (integra server) S 1 4242 4242 0 -1 4194560 900 0 0 0 150 50 0 0 20 0 9 0 100 0 0"
        let seconds = try #require(CPUTime.parse(stat: stat))
        #expect(seconds == 200 / Double(sysconf(Int32(_SC_CLK_TCK))))
        #expect(CPUTime.parse(stat: "garbage") == nil)
    }

    @Test func thisProcessHasUsedSomeCPU() throws {
        let seconds = try #require(CPUTime.seconds(pid: getpid()))
        #expect(seconds >= 0)
        #expect(CPUTime.ownSeconds() > 0)
    }
}
