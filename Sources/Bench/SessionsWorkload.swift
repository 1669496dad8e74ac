import Synchronization

/// The `sessions` workload at one or more session counts, each followed by the same run against
/// the echo server (the baseline: same sessions, same duration, same rate).
struct SessionsWorkload: Sendable {
    let options: BenchOptions
    let progress: Progress
    let cores: Int

    func run(target: TransferTarget, echo: TransferTarget?) async throws -> BenchReport {
        var points: [BenchReport.SweepPoint] = []
        var last: (summary: LatencySummary, echo: LatencySummary?, timeline: Timeline, rate: Double?, peak: Double?)? = nil
        for sessions in self.options.sessionCounts {
            var rate: Double? = nil
            var peak: Double? = nil
            switch self.options.rate {
            case .closedLoop: break
            case .perSecond(let value): rate = value
            case .halfPeak:
                let closed = try await self.measure(target, sessions: sessions, rate: nil, timeline: nil, label: "peak")
                peak = closed.throughputPerSecond
                rate = max(1, closed.throughputPerSecond / 2)
                self.progress.log(String(format: "closed-loop peak %.0f transfers/s; open loop at %.0f/s", closed.throughputPerSecond, rate ?? 0))
            }
            let timeline = Timeline(capacitySeconds: Int(self.options.durationSeconds.rounded(.up)) + 1)
            let summary = try await self.measure(target, sessions: sessions, rate: rate, timeline: timeline, label: "integra")
            let echoSummary = echo == nil ? nil : try await self.measure(echo!, sessions: sessions, rate: rate, timeline: nil, label: "echo")
            points.append(BenchReport.SweepPoint(sessions: sessions, throughputPerSecond: summary.throughputPerSecond, p99Ms: summary.p99Ms, echoThroughputPerSecond: echoSummary?.throughputPerSecond))
            last = (summary, echoSummary, timeline, rate, peak)
        }
        guard let last else { preconditionFailure("at least one session count") }
        let baseline = last.echo.map { BenchReport.Baseline(kind: "echo_throughput_per_s", value: $0.throughputPerSecond, run: $0) }
        var report = BenchReport(
            workload: .sessions, store: self.storeName, mode: last.rate == nil ? "closed" : "open",
            sessions: self.options.sessionCounts.last ?? self.options.sessions, durationSeconds: self.options.durationSeconds,
            targetRatePerSecond: last.rate, result: last.summary, baseline: baseline, cores: self.cores)
        report.peakThroughputPerSecond = last.peak
        report.request = self.options.request
        if points.count > 1 { report.sweep = points }
        report.timeline = last.timeline.points()
        return report
    }

    var storeName: String { self.options.server == nil ? self.options.store.rawValue : "external" }

    func measure(_ target: TransferTarget, sessions: Int, rate: Double?, timeline: Timeline?, label: String, gate: StartGate? = nil) async throws -> LatencySummary {
        let run = SessionsRun(
            target: target, sessions: sessions, ratePerSecond: rate, warmupSeconds: self.options.warmupSeconds,
            durationSeconds: self.options.durationSeconds, progress: self.progress, timeline: timeline, label: label, request: self.options.request)
        let unit = self.options.request == .transfer ? "transfers" : "balance requests"
        let (recorder, cpu) = try await self.progress.reporting("\(label) sessions=\(sessions)\(rate.map { " rate=\(Int($0))/s" } ?? "")", unit: unit) {
            await run.run(gate: gate)
        }
        var summary = recorder.summary(elapsedSeconds: self.options.durationSeconds)
        cpu.apply(to: &summary)
        return summary
    }
}

/// The `storm` workload: the same sessions at the same open-loop rate twice, first calm, then
/// beside a login storm. The baseline is the calm p99; the ratio is how much the storm raised it.
struct StormWorkload: Sendable {
    let options: BenchOptions
    let progress: Progress
    let cores: Int

    func run(target: TransferTarget) async throws -> BenchReport {
        let sessions = SessionsWorkload(options: self.options, progress: self.progress, cores: self.cores)
        var peak: Double? = nil
        let rate: Double
        switch self.options.rate {
        case .perSecond(let value):
            rate = value
        case .closedLoop, .halfPeak:
            let closed = try await sessions.measure(target, sessions: self.options.sessions, rate: nil, timeline: nil, label: "peak")
            peak = closed.throughputPerSecond
            rate = max(1, closed.throughputPerSecond / 2)
        }
        let calm = try await sessions.measure(target, sessions: self.options.sessions, rate: rate, timeline: nil, label: "calm")
        // The storm starts once every session is logged in: what is measured is how it slows
        // the transfers of sessions already open, from the warm-up on.
        let stop = Atomic<Bool>(false)
        let gate = StartGate(expected: self.options.sessions)
        let storm = LoginStorm(target: target, connections: self.options.stormConnections)
        async let logins = { () async -> (LatencyRecorder, Double) in
            let started = await gate.started()
            let recorder = await storm.run { stop.load(ordering: .relaxed) }
            return (recorder, (ContinuousClock.now - started).seconds)
        }()
        let timeline = Timeline(capacitySeconds: Int(self.options.durationSeconds.rounded(.up)) + 1)
        let stormy = try await sessions.measure(target, sessions: self.options.sessions, rate: rate, timeline: timeline, label: "storm", gate: gate)
        stop.store(true, ordering: .relaxed)
        let (loginRecorder, stormSeconds) = await logins
        var report = BenchReport(
            workload: .storm, store: sessions.storeName, mode: "open", sessions: self.options.sessions,
            durationSeconds: self.options.durationSeconds, targetRatePerSecond: rate, result: stormy,
            baseline: BenchReport.Baseline(kind: "calm_p99_ms", value: calm.p99Ms, run: calm), cores: self.cores)
        report.peakThroughputPerSecond = peak
        report.request = self.options.request
        report.storm = BenchReport.StormDetail(
            connections: self.options.stormConnections, loginsPerSecond: Double(loginRecorder.completed) / stormSeconds,
            loginErrors: loginRecorder.errors)
        report.timeline = timeline.points()
        return report
    }
}
