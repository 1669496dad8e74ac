import IntegraClient
import Synchronization

/// `sessions` sessions that log in once and then transfer 0.01 at a time, closed loop or open
/// loop at a total rate, for a warm-up and then a measured window that starts for all sessions
/// at the same instant (after the last login).
struct SessionsRun: Sendable {
    let target: TransferTarget
    let sessions: Int
    /// Open-loop total rate; nil for the closed loop.
    let ratePerSecond: Double?
    let warmupSeconds: Double
    let durationSeconds: Double
    let progress: Progress
    let timeline: Timeline?
    let label: String
    /// What each request is.
    let request: SessionRequest

    /// Runs the sessions; returns their merged latencies and the CPU used in the measured window.
    /// `gate` opens when every session is logged in (pass one to start other load then).
    func run(gate: StartGate? = nil) async -> (LatencyRecorder, CPUUsage) {
        let gate = gate ?? StartGate(expected: self.sessions)
        async let windowStart = CPUUsage.sample(serverPID: self.target.serverPID, after: gate, warmupSeconds: self.warmupSeconds)
        let recorder = await withTaskGroup(of: LatencyRecorder.self) { group in
            for index in 0..<self.sessions {
                group.addTask { await self.session(index, gate: gate) }
            }
            var merged = LatencyRecorder()
            for await recorder in group { merged.merge(recorder) }
            return merged
        }
        let end = CPUUsage.now(serverPID: self.target.serverPID)
        return (recorder, end - (await windowStart))
    }

    private func session(_ index: Int, gate: StartGate) async -> LatencyRecorder {
        var state = SessionState(timeline: self.timeline)
        let credential = self.target.sender(index)
        let schedule = self.ratePerSecond.map { RateSchedule(totalRatePerSecond: $0, sessions: self.sessions, sessionIndex: index) }
        var attempts = 0
        while attempts < SessionState.maximumConnectionAttempts {
            attempts += 1
            do {
                try await self.target.connect { connection in
                    try await connection.login(username: credential.username, password: credential.password)
                    if state.start == nil { state.start = await gate.arrive() }
                    try await self.transfers(connection, index: index, schedule: schedule, state: &state)
                }
                break
            } catch {
                // A session that could not log in tries again before the start; only one that
                // keeps failing lets the others start without it.
                if state.start == nil && attempts >= SessionState.maximumLoginAttemptsBeforeStart {
                    state.start = await gate.arrive()
                }
                if state.isMeasuring(self.window) { state.recorder.recordError(TransferTarget.errorName(error)) }
                if state.isOver(self.window) { break }
                self.progress.addFailure()
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
        state.timelineBuffer?.flush()
        return state.recorder
    }

    private var window: SessionState.Window {
        SessionState.Window(warmupNs: Int64(self.warmupSeconds * 1e9), durationNs: Int64(self.durationSeconds * 1e9))
    }

    private func transfers(_ connection: IntegraConnection, index: Int, schedule: RateSchedule?, state: inout SessionState) async throws {
        guard let start = state.start else { preconditionFailure("transfers start after the gate") }
        let window = self.window
        let measureStart = start + .nanoseconds(window.warmupNs)
        let end = measureStart + .nanoseconds(window.durationNs)
        while true {
            let due: ContinuousClock.Instant
            if let schedule {
                due = start + .nanoseconds(schedule.dueNs(state.counter))
                guard due < end else { return }
                if ContinuousClock.now < due { try await Task.sleep(until: due, clock: .continuous) }
            } else {
                due = ContinuousClock.now
                guard due < end else { return }
            }
            let counter = state.counter
            state.counter += 1
            do {
                switch self.request {
                case .transfer:
                    let recipient = self.target.recipient(senderIndex: index, counter: counter)
                    _ = try await connection.transfer(to: recipient.username, amount: "0.01", transferID: self.target.transferID(self.label, session: index, counter: counter))
                case .balance:
                    _ = try await connection.balance()
                }
            } catch {
                if due >= measureStart { state.recorder.recordError(TransferTarget.errorName(error)) }
                self.progress.addFailure()
                guard TransferTarget.keepsConnection(error) else { throw error }
                continue
            }
            guard due >= measureStart else { continue }
            let now = ContinuousClock.now
            let latencyNs = (now - due).nanoseconds
            state.recorder.record(latencyNs: latencyNs)
            state.timelineBuffer?.record(latencyNs: latencyNs, elapsedNs: (due - measureStart).nanoseconds)
            self.progress.add()
        }
    }
}

/// What one session carries across reconnections.
struct SessionState {
    struct Window {
        let warmupNs: Int64
        let durationNs: Int64
    }

    static let maximumConnectionAttempts = 1000
    static let maximumLoginAttemptsBeforeStart = 5

    var recorder = LatencyRecorder()
    var timelineBuffer: TimelineBuffer?
    var start: ContinuousClock.Instant?
    var counter: Int64 = 0

    init(timeline: Timeline?) {
        self.timelineBuffer = timeline.map(TimelineBuffer.init)
    }

    func isMeasuring(_ window: Window) -> Bool {
        guard let start else { return false }
        let elapsed = (ContinuousClock.now - start).nanoseconds
        return elapsed >= window.warmupNs && elapsed < window.warmupNs + window.durationNs
    }

    func isOver(_ window: Window) -> Bool {
        guard let start else { return false }
        return (ContinuousClock.now - start).nanoseconds >= window.warmupNs + window.durationNs
    }
}

/// CPU seconds of the server (if the bench started it) and of the bench itself.
struct CPUUsage: Sendable {
    var serverSeconds: Double?
    var benchSeconds: Double

    static func now(serverPID: Int32?) -> CPUUsage {
        CPUUsage(serverSeconds: serverPID.flatMap(CPUTime.seconds(pid:)), benchSeconds: CPUTime.ownSeconds())
    }

    /// A sample at the start of the measured window: the sessions' start plus the warm-up.
    static func sample(serverPID: Int32?, after gate: StartGate, warmupSeconds: Double) async -> CPUUsage {
        let start = await gate.started()
        try? await Task.sleep(until: start + .seconds(warmupSeconds), clock: .continuous)
        return Self.now(serverPID: serverPID)
    }

    static func - (end: CPUUsage, start: CPUUsage) -> CPUUsage {
        var serverSeconds: Double? = nil
        if let endServer = end.serverSeconds, let startServer = start.serverSeconds { serverSeconds = endServer - startServer }
        return CPUUsage(serverSeconds: serverSeconds, benchSeconds: end.benchSeconds - start.benchSeconds)
    }

    /// Fills in the per-operation CPU of a summary.
    func apply(to summary: inout LatencySummary) {
        guard summary.completed > 0 else { return }
        summary.serverCPUMicrosecondsPerOperation = self.serverSeconds.map { $0 * 1e6 / Double(summary.completed) }
        summary.benchCPUMicrosecondsPerOperation = self.benchSeconds * 1e6 / Double(summary.completed)
    }
}
