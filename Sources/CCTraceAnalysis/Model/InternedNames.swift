#if canImport(Glibc)
    import Glibc
#endif

/// The names and categories of thread slices, interned process-wide: a ``Slice`` holds two
/// 32-bit ids instead of two strings.
///
/// Why: every analysis pass reads millions of slices that share a few thousand names. With
/// strings inside, a slice was 96 bytes and every copy retained and released two string
/// storages — a fifth of the analysis' time went to reference counting. With ids a slice is
/// plain data (72 bytes, copied as bytes), and what a pass wants to know about a name is
/// looked up once per id (``SliceNameMemo``) rather than hashed per slice.
///
/// Process-wide rather than per model because a slice must stay readable on its own
/// (`slice.name`) and models of one process (a diff, a merge, tests) share most names. Names
/// are never removed: a process analyzes a handful of traces, and a trace's distinct names are
/// far fewer than its events. Readers take no lock: a name is written before its id is handed
/// out, and the id reaches other threads only through the model, which is passed on with a
/// happens-before (a thread start, a join, a dispatch).
public enum InternedNames {
    /// Names per page; pages never move once allocated.
    private static let pageBits = 12
    private static let pageSize = 1 << pageBits
    /// At most 2¹⁶ pages: 268 M distinct names, far beyond any trace that fits in memory.
    private static let pageCount = 1 << 16

    private final class Storage: @unchecked Sendable {
        let pages: UnsafeMutablePointer<UnsafeMutablePointer<String>?>
        var ids: [String: UInt32] = [:]
        var count = 0
        var lock = pthread_mutex_t()

        init() {
            pages = .allocate(capacity: InternedNames.pageCount)
            pages.initialize(repeating: nil, count: InternedNames.pageCount)
            pthread_mutex_init(&lock, nil)
        }
    }

    private static let storage: Storage = {
        let s = Storage()
        // Id 0 is the empty string: what a slice without a name or category holds.
        _ = insert("", into: s)
        return s
    }()

    private static func insert(_ name: String, into s: Storage) -> UInt32 {
        if let id = s.ids[name] { return id }
        precondition(s.count < pageCount * pageSize, "more distinct slice names than cctrace can hold")
        let page = s.count >> pageBits
        if s.pages[page] == nil { s.pages[page] = .allocate(capacity: pageSize) }
        (s.pages[page]! + (s.count & (pageSize - 1))).initialize(to: name)
        let id = UInt32(s.count)
        s.ids[name] = id
        s.count += 1
        return id
    }

    /// The id of `name`, interning it on first use.
    public static func id(_ name: String) -> UInt32 {
        let s = storage
        pthread_mutex_lock(&s.lock)
        defer { pthread_mutex_unlock(&s.lock) }
        return insert(name, into: s)
    }

    /// The name with id `id` (an id returned by ``id(_:)``).
    @inline(__always)
    public static func name(_ id: UInt32) -> String {
        let i = Int(id)
        return storage.pages[i >> pageBits]![i & (pageSize - 1)]
    }
}

/// A memo of a pure function of a slice's name (or of its name and category), keyed by their
/// interned ids: no hashing of characters per slice.
struct SliceNameMemo<Value> {
    private var table = MemoTable<UInt64, Value>(capacity: 32)

    /// `compute(name)`, computed once per distinct name.
    @inline(__always)
    mutating func value(name s: Slice, _ compute: (String) -> Value) -> Value {
        table.value(UInt64(s.nameID)) { compute(s.name) }
    }

    /// `compute(category)`, computed once per distinct category.
    @inline(__always)
    mutating func value(category s: Slice, _ compute: (String) -> Value) -> Value {
        table.value(UInt64(s.categoryID)) { compute(s.category) }
    }

    /// `compute(name, category)`, computed once per distinct pair.
    @inline(__always)
    mutating func value(_ s: Slice, _ compute: (String, String) -> Value) -> Value {
        table.value(UInt64(s.nameID) | UInt64(s.categoryID) << 32) { compute(s.name, s.category) }
    }
}
