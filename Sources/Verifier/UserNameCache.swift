/// User names by id, for one pass of a `SealedEntryReader`: each name copied once into memory of
/// its own that stays put until the cache goes away, so rows can refer to it without copies.
/// Grows with the users the pass meets, like the verifier's balances. Not thread-safe.
public final class UserNameCache {
    /// What the cache knows about a user id.
    public enum Entry {
        /// Not looked up yet.
        case unknown
        /// Looked up: there is no such user.
        case absent
        /// The user's name, UTF-8, valid as long as the cache.
        case name(UnsafeRawBufferPointer)
    }

    /// nil inside: looked up, no such user. Used by one thread at a time (see above), so it skips
    /// the runtime's exclusivity bookkeeping.
    @exclusivity(unchecked) private var names = UserIDMap<UnsafeRawBufferPointer?>()

    public init() {}

    deinit {
        self.names.forEachValue { $0?.deallocate() }
    }

    public subscript(userID: Int64) -> Entry {
        guard let known = self.names[userID] else { return .unknown }
        return known.map { .name($0) } ?? .absent
    }

    /// Records a lookup: the user's name, or nil if there is no such user. A user already known
    /// keeps the name it had.
    public func record(userID: Int64, name: UnsafeRawBufferPointer?) {
        guard self.names[userID] == nil else { return }
        let copy = name.map { name in
            let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: max(name.count, 1), alignment: 1)
            copy.copyMemory(from: name)
            return UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(copy)[..<name.count])
        }
        // `.some(nil)` records an absent user; assigning nil would remove the key.
        self.names[userID] = .some(copy)
    }
}
