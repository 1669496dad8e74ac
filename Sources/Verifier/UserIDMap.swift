/// A map keyed by user id that avoids hashing for the ids the stores hand out: user ids are
/// small and dense (0 for the system account, then 1, 2, 3, …), so ids below `denseLimit` index
/// an array, grown to the largest id seen; any other id goes to a dictionary. The array is
/// bounded by `denseLimit` entries, however large the ids a (tampered) table holds.
struct UserIDMap<Value> {
    static var denseLimit: Int64 { 1 << 20 }

    private var dense: [Value?] = []
    private var sparse: [Int64: Value] = [:]

    subscript(userID: Int64) -> Value? {
        get {
            guard userID >= 0 && userID < Self.denseLimit else { return self.sparse[userID] }
            return userID < Int64(self.dense.count) ? self.dense[Int(userID)] : nil
        }
        set {
            guard userID >= 0 && userID < Self.denseLimit else {
                self.sparse[userID] = newValue
                return
            }
            let index = Int(userID)
            if index >= self.dense.count {
                guard newValue != nil else { return }
                let grown = min(max(index + 1, 2 * self.dense.count), Int(Self.denseLimit))
                self.dense.append(contentsOf: repeatElement(nil, count: grown - self.dense.count))
            }
            self.dense[index] = newValue
        }
    }

    /// Calls `body` with every user id and its value (in no particular order).
    func forEach(_ body: (Int64, Value) -> Void) {
        for (index, value) in self.dense.enumerated() { if let value { body(Int64(index), value) } }
        for (userID, value) in self.sparse { body(userID, value) }
    }

    /// Calls `body` with every value (in no particular order).
    func forEachValue(_ body: (Value) -> Void) {
        for value in self.dense { if let value { body(value) } }
        for value in self.sparse.values { body(value) }
    }
}
