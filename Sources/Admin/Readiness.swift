public import IntegraServer

/// Whether the deployment should get traffic (`GET /health/ready`): the store answers, the keys
/// are loaded, it is not shutting down and no integrity alarm is open. Otherwise the first reason.
public enum Readiness: Equatable, Sendable {
    case ready
    case notReady(reason: String)

    public init(_ state: OperationalState) {
        if state.shuttingDown {
            self = .notReady(reason: "shutting down")
        } else if !state.keysLoaded {
            self = .notReady(reason: "the deployment keys are not loaded")
        } else if state.headPosition == nil {
            self = .notReady(reason: "the store is unreachable")
        } else if let alarm = state.openAlarms.first {
            let more = state.openAlarms.count > 1 ? " (and \(state.openAlarms.count - 1) more)" : ""
            self = .notReady(reason: "integrity alarm \(alarm.id) is open: \(alarm.kind)\(more)")
        } else {
            self = .ready
        }
    }
}
