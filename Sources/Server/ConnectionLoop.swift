import IntegraLedger
import IntegraProtocol
import Logging
import NIOCore

extension Duration {
    /// The duration in whole nanoseconds (saturating).
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = self.components
        return seconds.multipliedReportingOverflow(by: 1_000_000_000).overflow ? .max : seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

/// One connection's I/O. Every event (the connection opening, a frame, a frame the decoder
/// refused, the throttle's verdict, a request's result, the server shutting down, the session
/// timer) goes into the connection's `ServerConnectionStateMachine`, and `run(_:)` carries out
/// the one action it returns: this is the only place that reads, writes, asks the throttle or
/// the ledger service, and records what happened.
struct ConnectionLoop {
    private let server: IntegraServer
    private let channel: any Channel
    private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private let address: String
    private let peer: String
    private let logger: Logger
    private var machine: ServerConnectionStateMachine
    /// Whether the machine was told that the server is shutting down.
    private var toldShutdown = false
    /// A request is being performed or answered: it counts for the shutdown's grace period.
    private var inFlight = false
    /// The password check the throttle counted and that has not been settled yet: settled when
    /// its answer is recorded, or as not checked if the connection ends first.
    private var countedAttempt: LoginThrottle.Attempt?
    /// When the frame being answered arrived, for the request's latency.
    private var frameArrived: ContinuousClock.Instant?
    /// Whether the connection has a logged-in session (counted in the server's open sessions).
    private var hasSession = false

    init(
        server: IntegraServer, channel: any Channel, inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator,
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, address: String, peer: String, logger: Logger
    ) {
        self.server = server
        self.channel = channel
        self.inbound = inbound
        self.outbound = outbound
        self.address = address
        self.peer = peer
        self.logger = logger
        self.machine = ServerConnectionStateMachine(configuration: server.machineConfiguration)
    }

    /// Serves the connection until the machine closes it or the peer goes away.
    mutating func run() async throws {
        defer {
            self.settleInFlight()
            self.settleUnansweredAttempt()
            self.sessionEnded()
        }
        var action = self.machine.connectionOpened(nowMs: self.server.clock.nowMs())
        while let next = try await self.run(action) {
            action = next
        }
    }

    /// Carries out one action; returns the machine's next action, or nil once the connection is
    /// done.
    private mutating func run(_ action: ServerConnectionStateMachine.Action) async throws -> ServerConnectionStateMachine.Action? {
        switch action {
        case .send(let outbound):
            // What happened is recorded before the answer is written: a peer that goes away
            // while its password is checked must not leave the check counted in the throttle.
            // One request is answered at a time, so an answer settles the check counted for it.
            if let report = outbound.report {
                let duration = self.frameArrived.map { ($0.duration(to: .now)).nanoseconds }
                self.server.record(report, counted: self.countedAttempt.take(), peer: self.peer, durationNanoseconds: duration, logger: self.logger)
                self.noteSession(report)
            }
            self.frameArrived = nil
            if outbound.frame.readableBytes > 0 { try await self.outbound.write(outbound.frame) }
            self.settleInFlight()
            if let deadline = outbound.sessionDeadlineMs {
                self.sessionBegan()
                SessionTimer.arm(on: self.channel, inMs: deadline - self.server.clock.nowMs())
            }
            if outbound.closesConnection { return nil }
            return try await self.nextInput()
        case .checkThrottle(let query):
            let (verdict, counted) = self.server.throttleVerdict(query, address: self.address)
            self.settleUnansweredAttempt()
            self.countedAttempt = counted
            return self.machine.throttleDecided(verdict, nowMs: self.server.clock.nowMs())
        case .perform(let request, let context):
            if !self.inFlight {
                self.inFlight = true
                self.server.requestsInFlight.add(1)
            }
            let result = await self.server.performer.perform(request, context: context, origin: self.address)
            return self.machine.requestCompleted(result, nowMs: self.server.clock.nowMs())
        case .close:
            return nil
        case .none:
            return try await self.nextInput()
        }
    }

    /// Waits for the peer's next frame (or the session timer) and hands it to the machine.
    private mutating func nextInput() async throws -> ServerConnectionStateMachine.Action? {
        let frame: ByteBuffer?
        do {
            frame = try await self.inbound.next()
        } catch let error as ProtocolError {
            self.noteShutdown()
            return self.machine.decodingFailed(error, nowMs: self.server.clock.nowMs())
        } catch is SessionTimer.Expired {
            return self.machine.timerFired(nowMs: self.server.clock.nowMs())
        }
        guard let frame else { return nil }
        self.frameArrived = .now
        self.noteShutdown()
        return self.machine.frameReceived(frame, nowMs: self.server.clock.nowMs())
    }

    /// Tells the machine, once, that the server is shutting down.
    private mutating func noteShutdown() {
        guard !self.toldShutdown, self.server.shuttingDown.load(ordering: .acquiring) else { return }
        self.toldShutdown = true
        _ = self.machine.shutdownBegan()
    }

    /// Settles a counted password check whose answer was never recorded (the connection ended
    /// first) as not checked, so it no longer counts as waiting.
    private mutating func settleUnansweredAttempt() {
        guard let counted = self.countedAttempt.take() else { return }
        self.server.settleUnanswered(counted)
    }

    private mutating func sessionBegan() {
        guard !self.hasSession else { return }
        self.hasSession = true
        self.server.sessionsOpen.wrappingAdd(1, ordering: .relaxed)
    }

    private mutating func sessionEnded() {
        guard self.hasSession else { return }
        self.hasSession = false
        self.server.sessionsOpen.wrappingSubtract(1, ordering: .relaxed)
    }

    /// A logout, or a session that reached its lifetime, ends the session.
    private mutating func noteSession(_ report: ServerConnectionStateMachine.Report) {
        if case .logout? = report.request, report.error == nil { self.sessionEnded() }
        if report.error?.code == .sessionEnded { self.sessionEnded() }
    }

    private mutating func settleInFlight() {
        guard self.inFlight else { return }
        self.inFlight = false
        self.server.requestsInFlight.add(-1)
    }
}

/// Fires `Expired` into the pipeline (where the connection's inbound stream throws it) when a
/// session reaches its absolute lifetime; armed by `ConnectionLoop` when a session begins.
final class SessionTimer: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    struct Expired: Error {}

    private var scheduled: Scheduled<Void>?

    /// Arms the timer of `channel`'s pipeline to fire in `delayMs` milliseconds (at once if it
    /// is not positive), on the channel's event loop.
    static func arm(on channel: any Channel, inMs delayMs: Int64) {
        let delayMs = max(0, delayMs)
        channel.eventLoop.execute {
            guard let timer = try? channel.pipeline.syncOperations.handler(type: SessionTimer.self),
                  let context = try? channel.pipeline.syncOperations.context(handlerType: SessionTimer.self)
            else { return }
            timer.scheduled?.cancel()
            let bound = NIOLoopBound(context, eventLoop: channel.eventLoop)
            timer.scheduled = channel.eventLoop.scheduleTask(in: .milliseconds(delayMs)) {
                bound.value.fireErrorCaught(Expired())
            }
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.scheduled?.cancel()
    }
}
