/// The original system's test-script pattern: each operation is a new connection, a login and
/// one transfer. `workers` loops run side by side; the latency is the whole operation's.
struct SeedRun: Sendable {
    let target: TransferTarget
    let workers: Int
    let warmupSeconds: Double
    let durationSeconds: Double
    let progress: Progress
    let timeline: Timeline?

    /// Runs the workers; returns their merged latencies and the CPU used in the measured window.
    func run() async -> (LatencyRecorder, CPUUsage) {
        let start = ContinuousClock.now
        let measureStart = start + .seconds(self.warmupSeconds)
        let end = measureStart + .seconds(self.durationSeconds)
        async let windowStart = { () async -> CPUUsage in
            try? await Task.sleep(until: measureStart, clock: .continuous)
            return CPUUsage.now(serverPID: self.target.serverPID)
        }()
        let recorder = await withTaskGroup(of: LatencyRecorder.self) { group in
            for index in 0..<self.workers {
                group.addTask { await self.worker(index, measureStart: measureStart, end: end) }
            }
            var merged = LatencyRecorder()
            for await recorder in group { merged.merge(recorder) }
            return merged
        }
        return (recorder, CPUUsage.now(serverPID: self.target.serverPID) - (await windowStart))
    }

    private func worker(_ index: Int, measureStart: ContinuousClock.Instant, end: ContinuousClock.Instant) async -> LatencyRecorder {
        var recorder = LatencyRecorder()
        var buffer = self.timeline.map(TimelineBuffer.init)
        var counter: Int64 = 0
        while true {
            let began = ContinuousClock.now
            guard began < end else { break }
            let senderIndex = (index + Int(counter) * self.workers) % self.target.credentials.count
            let sender = self.target.sender(senderIndex)
            let recipient = self.target.recipient(senderIndex: senderIndex, counter: counter)
            let transferID = self.target.transferID("seed", session: index, counter: counter)
            counter += 1
            do {
                _ = try await self.target.connect { connection in
                    try await connection.login(username: sender.username, password: sender.password)
                    _ = try await connection.transfer(to: recipient.username, amount: "0.01", transferID: transferID)
                }
            } catch {
                if began >= measureStart { recorder.recordError(TransferTarget.errorName(error)) }
                self.progress.addFailure()
                continue
            }
            guard began >= measureStart else { continue }
            let latencyNs = (ContinuousClock.now - began).nanoseconds
            recorder.record(latencyNs: latencyNs)
            buffer?.record(latencyNs: latencyNs, elapsedNs: (began - measureStart).nanoseconds)
            self.progress.add()
        }
        buffer?.flush()
        return recorder
    }
}

/// A login storm: `connections` loops that connect and log in, again and again, until stopped.
struct LoginStorm: Sendable {
    let target: TransferTarget
    let connections: Int

    /// Runs until `isStopped` returns true; returns the logins' latencies.
    func run(until isStopped: @escaping @Sendable () -> Bool) async -> LatencyRecorder {
        await withTaskGroup(of: LatencyRecorder.self) { group in
            for index in 0..<self.connections {
                group.addTask {
                    var recorder = LatencyRecorder()
                    var counter = 0
                    while !isStopped() {
                        let credential = self.target.sender(index + counter * self.connections)
                        counter += 1
                        let began = ContinuousClock.now
                        do {
                            _ = try await self.target.connect { connection in
                                try await connection.login(username: credential.username, password: credential.password)
                            }
                            recorder.record(latencyNs: (ContinuousClock.now - began).nanoseconds)
                        } catch {
                            recorder.recordError(TransferTarget.errorName(error))
                            try? await Task.sleep(for: .milliseconds(10))
                        }
                    }
                    return recorder
                }
            }
            var merged = LatencyRecorder()
            for await recorder in group { merged.merge(recorder) }
            return merged
        }
    }
}
