import IntegraLedger
import IntegraProtocol
import Logging
import ServiceLifecycle

// The deployment's long-lived parts besides the listener, each a `Service` of the deployment's
// `ServiceGroup` (`IntegraDeployment.run`), which shuts them down in order on a graceful shutdown.

/// The group committer's flush loop. It stops last, and commits what is still queued before it
/// returns: the requests the server let finish during its shutdown are durable.
struct GroupCommitService: Service {
    let committer: GroupCommitter

    func run() async {
        await withTaskCancellationOrGracefulShutdownHandler {
            await self.committer.run()
        } onCancelOrGracefulShutdown: {
            self.committer.stop()
        }
    }
}

/// The store's own background work (`LedgerStore.maintain`; for SQLite, WAL checkpoints off the
/// commit path). It stops after the group committer, so that the last commits still have it.
struct StoreMaintenance: Service {
    let store: any LedgerStore

    func run() async {
        await cancelWhenGracefulShutdown { await self.store.maintain() }
    }
}

/// The integrity monitor's background verifier: every `checkIntervalMs` the alarms are re-read
/// and the entries committed since are verified; every `fullVerifyIntervalMs` the whole ledger.
struct BackgroundVerifier: Service {
    let monitor: IntegrityMonitor

    func run() async {
        await cancelWhenGracefulShutdown { await self.monitor.verifyPeriodically() }
    }
}

/// Signs a checkpoint of the verified head every `checkpointIntervalMs` when it moved (the
/// deployment signs a last one after every service has stopped).
struct PeriodicCheckpointer: Service {
    let monitor: IntegrityMonitor

    func run() async {
        await cancelWhenGracefulShutdown { await self.monitor.checkpointPeriodically() }
    }
}

/// Forgets nonces no replay window ever configured on this deployment would let pass (the widest
/// one is kept in the store, so instances with different windows agree), every
/// `noncePruneIntervalMs`.
struct NoncePruner: Service {
    let store: any LedgerStore
    let replayWindowMs: Int64
    let intervalMs: Int64
    let clock: WallClock
    let logger: Logger

    /// Extra time nonces are kept beyond the widest window: the instants of the request and of
    /// the pruning come from different clocks.
    static let clockSlackMs: Int64 = 60_000

    func run() async {
        await cancelWhenGracefulShutdown {
            while (try? await Task.sleep(for: .milliseconds(self.intervalMs))) != nil {
                await self.prune()
            }
        }
    }

    /// Prunes once; returns how many nonces were forgotten (nil when the store failed).
    @discardableResult
    func prune() async -> Int? {
        do {
            let widestMs = try await self.store.record(.maximumReplayWindowMs, self.replayWindowMs, onlyRaise: true)
            let pruned = try await self.store.pruneNonces(olderThanMs: self.clock.nowMs() - widestMs - Self.clockSlackMs)
            self.logger.debug("pruned nonces", metadata: ["count": "\(pruned)"])
            return pruned
        } catch {
            // A prune cut short by the shutdown is no failure.
            if !Task.isCancelled { self.logger.warning("nonce pruning failed", metadata: ["error": "\(error)"]) }
            return nil
        }
    }
}
