import Synchronization

/// Names that are not `StaticString`s, interned once so an event stores a 32-bit id.
///
/// Entries are immutable once published and live as long as the process, so the writer (and a
/// fatal-signal handler) reads them without a lock. Recording threads keep a per-thread cache in
/// front of the table; only a thread's first use of a name takes the lock.
final class NameTable: Sendable {
    /// The most names a process can intern; later names all map to ``overflowID``.
    static let capacity = 1 << 16
    /// The id of the name `(too many names)`.
    static let overflowID: UInt32 = 0

    private nonisolated(unsafe) let bytes: UnsafeMutablePointer<UnsafePointer<UInt8>?>
    private nonisolated(unsafe) let lengths: UnsafeMutablePointer<Int32>
    private let ids = Mutex<[String: UInt32]>([:])
    private let count = Atomic<Int>(0)

    static let shared = NameTable()

    private init() {
        bytes = .allocate(capacity: Self.capacity)
        bytes.initialize(repeating: nil, count: Self.capacity)
        lengths = .allocate(capacity: Self.capacity)
        lengths.initialize(repeating: 0, count: Self.capacity)
        _ = publish("(too many names)")
    }

    /// The id for `name`, interning it on first use.
    func intern(_ name: String) -> UInt32 {
        ids.withLock { table in
            if let id = table[name] { return id }
            let id = publish(name)
            if id != Self.overflowID { table[name] = id }
            return id
        }
    }

    private func publish(_ name: String) -> UInt32 {
        let n = count.load(ordering: .relaxed)
        guard n < Self.capacity else { return Self.overflowID }
        var s = name
        s.withUTF8 { utf8 in
            let copy = UnsafeMutablePointer<UInt8>.allocate(capacity: max(utf8.count, 1))
            if let base = utf8.baseAddress { copy.update(from: base, count: utf8.count) }
            bytes[n] = UnsafePointer(copy)
            lengths[n] = Int32(utf8.count)
        }
        count.store(n + 1, ordering: .releasing)
        return UInt32(n)
    }

    /// The bytes of name `id`; safe from any thread once `id` was returned by ``intern(_:)``.
    func bytes(of id: UInt32) -> (UnsafePointer<UInt8>, Int) {
        let limit = count.load(ordering: .acquiring)
        let i = Int(id) < limit ? Int(id) : 0
        return (bytes[i]!, Int(lengths[i]))
    }
}
