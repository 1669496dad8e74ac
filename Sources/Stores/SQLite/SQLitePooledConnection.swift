import IntegraLedger
import NIOPosix
import Synchronization

/// A connection (with its prepared statements, `State`) that is opened on first use and used on
/// a thread pool, one call at a time under a lock, so a store that never needs it never opens it.
final class SQLitePooledConnection<State: AnyObject>: Sendable {
    private let state: Mutex<State?>
    private let threadPool: NIOThreadPool
    private let open: @Sendable () throws(LedgerError) -> State
    private let closeState: @Sendable (State) -> Void

    init(threadPool: NIOThreadPool, open: @escaping @Sendable () throws(LedgerError) -> State, close: @escaping @Sendable (State) -> Void) {
        self.state = Mutex(nil)
        self.threadPool = threadPool
        self.open = open
        self.closeState = close
    }

    /// Runs `body` with the state on the thread pool; every failure is the store's error.
    func run<T: Sendable>(_ body: @escaping @Sendable (State) throws(LedgerError) -> T) async throws(LedgerError) -> T {
        do {
            return try await self.threadPool.runIfActive {
                try self.state.withLock { (state) throws(LedgerError) -> T in
                    if state == nil { state = try self.open() }
                    return try body(state!)
                }
            }
        } catch let error as LedgerError {
            throw error
        } catch {
            throw .storeUnavailable("database error: \(error)")
        }
    }

    /// Closes the connection if it was opened; a later `run` opens it again.
    func close() async {
        try? await self.threadPool.runIfActive {
            self.state.withLock { state in
                if let opened = state { self.closeState(opened) }
                state = nil
            }
        }
    }
}
