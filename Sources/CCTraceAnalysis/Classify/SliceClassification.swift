import CCTraceFormat
import Dispatch

/// Stage 1 — classification: what every slice's own time was spent on.
///
/// A slice takes its kind from cctrace's category (exact) or from the name of a blocking call
/// (inferred, ``SliceClassifier``); a slice without one inherits its parent's (a `read` inside
/// `recv_bytes` is IPC, a call inside a lock wait is waiting). Where a tracer leaves a shape
/// instead of a call (CPython's `with lock:`, a C call under library code, a receive that
/// waited for its message), part of a slice's own time is moved to the kind it really was.
public struct SliceClassification: Sendable {
    /// Per-slice effective kind (`nil` = work), indexed like ``TraceModel/slices``.
    public var kinds: [SliceKind?]
    /// Lock waits inferred inside slices (CPython's untraced `with lock:` acquire): the slice
    /// and the waiting at its start, nanoseconds.
    public var inferredLockWaits: [(slice: Int, wait: Int64)]
    /// When IPC messages arrived, per receiving thread (sorted): a receive is transfer only
    /// from its message's arrival.
    public var ipcArrivals: [Int: [Int64]]
    /// Per thread (index into ``TraceModel/threads``): whether any of its time was classified
    /// from names rather than cctrace's categories.
    public var threadNamesInferred: [Bool]
    /// Part of a slice's own time that is another kind than the slice: (kind, nanoseconds).
    var moved: [Int: (kind: SliceKind, time: Int64)]
    /// The outermost IPC slice of every IPC slice.
    var ipcRoot: [Int: Int]
    /// How many children each slice has.
    var childCount: [Int32]
    /// Pipes and sockets between the trace's processes (seen from outside).
    public var channels: DescriptorChannels
    /// Waits for CPython's GIL (recognized by the functions that waited, ``CPython/isGILWait``):
    /// lock waits for the accounting, the cause of serialization rather than lock contention.
    public var gilWaits: Set<Int>
    /// Rows that are asyncio tasks rather than threads (``CPython/asyncTaskRows``): their time
    /// is their loop thread's, so they are not accounted as threads.
    public var taskRows: Set<Int>
    /// Every slice's (name, category) pair: what later passes that look for a few names read.
    public let names: SliceNames

    /// Classifies every slice of `model`.
    public init(model: TraceModel, heuristics h: Heuristics) {
        // What reads only the model is found beside the pass over the slices.
        let modelOnly = Started { Self.modelOnly(model) }
        self.init(model: model, heuristics: h, modelOnly: modelOnly.join)
    }

    /// What the classification reads from the model alone: every slice's (name, category)
    /// pair, the GIL waits the shim recorded, asyncio's task rows.
    static func modelOnly(_ model: TraceModel) -> (names: SliceNames, recordedGIL: Set<Int>, taskRows: Set<Int>) {
        let names = model.sliceNames()
        return (names, gilWaits(model: model, names: names), CPython.asyncTaskRows(in: model, names: names))
    }

    /// Classifies every slice of `model`. `modelOnly` gives what reads the model alone — every
    /// slice's (name, category) pair, the GIL waits the shim recorded, asyncio's task rows — and
    /// is asked for after the pass over the slices: the caller finds them meanwhile, on another
    /// thread. `chunked`: classify threads in chunks on every core (false: as one chunk, the
    /// reference the chunks must agree with).
    init(
        model: TraceModel, heuristics h: Heuristics,
        modelOnly: () -> (names: SliceNames, recordedGIL: Set<Int>, taskRows: Set<Int>), chunked: Bool = true
    ) {
        let slices = model.slices
        var kinds = [SliceKind?](repeating: nil, count: slices.count)
        var childCount = [Int32](repeating: 0, count: slices.count)
        var arrivals: [Int: [Int64]] = [:]
        for f in model.flows where f.category == TraceCategory.ipc.rawValue {
            arrivals[f.to.thread, default: []].append(f.to.timestamp.nanoseconds)
        }
        for k in arrivals.keys { arrivals[k]!.sort() }
        var moved: [Int: (kind: SliceKind, time: Int64)] = [:]
        var ipcRoot: [Int: Int] = [:]
        var lockGaps: [(slice: Int, wait: Int64)] = []
        var inferredThreads = [Bool](repeating: false, count: model.threads.count)
        let channels = DescriptorChannels(model: model)
        // A slice's kind reads only its own thread's slices (its parent's kind, its children):
        // threads are classified in chunks on every core, each chunk a run of whole threads,
        // and the chunks' findings put together in slice order. A model whose threads do not
        // hold their slices in runs, in order, is classified as one chunk.
        let chunks = chunked ? Self.chunks(model) : [0..<slices.count]
        var parts = [Part?](repeating: nil, count: chunks.count)
        kinds.withUnsafeMutableBufferPointer { kindsOut in
            childCount.withUnsafeMutableBufferPointer { countsOut in
                inferredThreads.withUnsafeMutableBufferPointer { inferredOut in
                    parts.withUnsafeMutableBufferPointer { partsOut in
                        let out = UnsafeSendable((kindsOut, countsOut, inferredOut, partsOut))
                        let input = UnsafeSendable((model, channels, arrivals, chunks))
                        DispatchQueue.concurrentPerform(iterations: chunks.count) { k in
                            let (kinds, counts, inferred, parts) = out.value
                            let (model, channels, arrivals, chunks) = input.value
                            parts[k] = Self.classify(
                                chunks[k], model: model, channels: channels, arrivals: arrivals, heuristics: h,
                                kinds: kinds, childCount: counts, inferredThreads: inferred)
                        }
                    }
                }
            }
        }
        if parts.contains(where: { $0 == nil }) {
            // A parent outside its chunk: the model's threads do not hold their slices apart.
            kinds = [SliceKind?](repeating: nil, count: slices.count)
            childCount = [Int32](repeating: 0, count: slices.count)
            inferredThreads = [Bool](repeating: false, count: model.threads.count)
            parts = [
                kinds.withUnsafeMutableBufferPointer { kindsOut in
                    childCount.withUnsafeMutableBufferPointer { countsOut in
                        inferredThreads.withUnsafeMutableBufferPointer { inferredOut in
                            Self.classify(
                                0..<slices.count, model: model, channels: channels, arrivals: arrivals, heuristics: h,
                                kinds: kindsOut, childCount: countsOut, inferredThreads: inferredOut, wholeModel: true)
                        }
                    }
                }
            ]
        }
        for case let part? in parts {
            moved.merge(part.moved) { a, _ in a }
            ipcRoot.merge(part.ipcRoot) { a, _ in a }
            lockGaps.append(contentsOf: part.lockGaps)
        }
        Self.consumerLocks(model: model, kinds: &kinds)
        let held = Self.gilHeldElsewhere(model: model, kinds: kinds, heuristics: h)
        let (names, recorded, taskRows) = modelOnly()
        self.names = names
        let gil = recorded.union(held)
        for i in gil { kinds[i] = .lockWait }
        self.gilWaits = gil
        self.taskRows = taskRows
        Self.taskRowWaits(model: model, rows: taskRows, kinds: kinds, moved: &moved)
        self.kinds = kinds
        self.channels = channels
        self.childCount = childCount
        self.moved = moved
        self.ipcRoot = ipcRoot
        self.ipcArrivals = arrivals
        self.inferredLockWaits = lockGaps
        self.threadNamesInferred = inferredThreads
    }

    /// What a chunk of the classification found besides kinds, child counts and inferred
    /// threads (which it writes in place).
    private struct Part {
        var moved: [Int: (kind: SliceKind, time: Int64)] = [:]
        var ipcRoot: [Int: Int] = [:]
        var lockGaps: [(slice: Int, wait: Int64)] = []
    }

    /// The chunks of `model`'s slices to classify apart: runs of whole threads of about equal
    /// size, in slice order; one chunk unless the threads' ranges cover the slices in order.
    private static func chunks(_ model: TraceModel) -> [Range<Int>] {
        let n = model.slices.count
        let ranges = model.threads.map(\.sliceRange).filter { !$0.isEmpty }
        var next = 0
        for r in ranges {
            guard r.lowerBound == next else { return [0..<n] }
            next = r.upperBound
        }
        guard next == n, n > 0 else { return [0..<n] }
        // A few chunks per core, so one long thread does not leave a core idle.
        let target = max(1, n / 8)
        var out: [Range<Int>] = []
        var start = 0
        for r in ranges where r.upperBound - start >= target {
            out.append(start..<r.upperBound)
            start = r.upperBound
        }
        if start < n { out.append(start..<n) }
        return out
    }

    /// Classifies the slices of `chunk` (whole threads), writing their kinds, child counts and
    /// threads' inferred flags; nil when a slice's parent, or a slice's thread, lies outside
    /// the chunk (unless `wholeModel`).
    private static func classify(
        _ chunk: Range<Int>, model: TraceModel, channels: DescriptorChannels, arrivals: [Int: [Int64]],
        heuristics h: Heuristics, kinds: UnsafeMutableBufferPointer<SliceKind?>,
        childCount: UnsafeMutableBufferPointer<Int32>, inferredThreads: UnsafeMutableBufferPointer<Bool>,
        wholeModel: Bool = false
    ) -> Part? {
        let slices = model.slices
        let lo = chunk.lowerBound
        var firstChild = [Int64](repeating: Int64.max, count: chunk.count)
        var withLock = [Bool](repeating: false, count: chunk.count)
        var withLockExit = SliceNameMemo<Bool>()
        let ahead = SlicePrefetch(slices)
        for i in chunk {
            ahead.ahead(of: i)
            guard wholeModel || chunk.contains(model.threads[slices[i].thread].sliceRange.lowerBound) else {
                return nil
            }
            let p = slices[i].parent
            guard p >= 0 else { continue }
            guard wholeModel || chunk.contains(p) else { return nil }
            childCount[p] += 1
            firstChild[p - lo] = min(firstChild[p - lo], slices[i].start.nanoseconds)
            if withLockExit.value(name: slices[i], CPython.isWithLockExit) { withLock[p - lo] = true }
        }
        var part = Part()
        var waitLeafTaken: Set<Int> = []
        // Names repeat (a trace has a few thousand distinct ones for millions of slices): each
        // is classified once per category.
        var known = SliceNameMemo<(own: (kind: SliceKind, inferred: Bool)?, shim: Bool)>()
        let preload = TraceCategory.preload.rawValue
        var libraryFunction = SliceNameMemo<Bool>()
        var parentIsQueueMethod = SliceNameMemo<Bool>()
        for i in chunk {
            ahead.ahead(of: i)
            let facts = known.value(slices[i]) {
                (SliceClassifier.classify(name: $0, category: $1), $1 == preload)
            }
            var own = facts.own
            // Only the shim's calls can be on a descriptor channel.
            if facts.shim, let k = channels.kind(of: slices[i], pid: model.threads[slices[i].thread].pid, model: model)
            {
                own = (k, false)
            }
            let parentKind: SliceKind? = slices[i].parent >= 0 ? kinds[slices[i].parent] : nil
            var kind: SliceKind?
            if let p = parentKind {
                if own?.kind == .ipc && p != .ipc {
                    kind = .ipc
                    part.ipcRoot[i] = i
                } else if p == .ipc, let root = part.ipcRoot[slices[i].parent] {
                    part.ipcRoot[i] = root
                    // A foreign receive's first read is the wait for the message to arrive.
                    if childCount[i] == 0, !waitLeafTaken.contains(root),
                        SliceClassifier.kind(ofCall: slices[i].name) == .ioWait,
                        SliceClassifier.ipcStep(name: slices[root].name) == .receive
                    {
                        waitLeafTaken.insert(root)
                        kind = .resultWait
                    } else {
                        kind = .ipc
                    }
                } else {
                    kind = p
                }
            } else {
                kind = own?.kind
                if kind == .ipc { part.ipcRoot[i] = i }
            }
            // A lock or semaphore wait inside a queue's own method is its flow control.
            if kind == .lockWait, own?.inferred == true, slices[i].parent >= 0,
                parentIsQueueMethod.value(
                    name: slices[slices[i].parent], { CPython.isQueueMethod(SliceClassifier.baseName($0)) })
            {
                kind = .resultWait
            }
            if let own, own.inferred, kind == own.kind { inferredThreads[slices[i].thread] = true }
            kinds[i] = kind
            let selfTime = slices[i].selfDuration.nanoseconds
            switch kind {
            case nil, .work?:
                if childCount[i] > 0, selfTime > h.untracedCallGap.nanoseconds,
                    selfTime * 2 > slices[i].duration.nanoseconds,
                    libraryFunction.value(name: slices[i], CPython.isLibraryFunction)
                {
                    // Long gaps between a library function's calls are a call the tracer did
                    // not see (a C function called from C): waiting, not work.
                    part.moved[i] = (.resultWait, selfTime)
                    inferredThreads[slices[i].thread] = true
                } else if withLock[i - lo], kind == nil, firstChild[i - lo] != Int64.max,
                    firstChild[i - lo] - slices[i].start.nanoseconds >= h.withLockMinimumWait.nanoseconds
                {
                    // The stretch before the first traced call of a `with lock:` block is
                    // the (untraced) acquire.
                    let wait = min(selfTime, firstChild[i - lo] - slices[i].start.nanoseconds)
                    part.moved[i] = (.lockWait, wait)
                    part.lockGaps.append((i, wait))
                    inferredThreads[slices[i].thread] = true
                }
            case .ipc?:
                let root = part.ipcRoot[i] ?? i
                if SliceClassifier.ipcStep(name: slices[root].name) == .receive,
                    slices[i].category == TraceCategory.ipc.rawValue, childCount[i] == 0,
                    let arrival = Self.first(
                        in: arrivals[slices[i].thread] ?? [], from: slices[i].start.nanoseconds,
                        to: slices[i].end.nanoseconds)
                {
                    // cctrace's receive: waiting until the message arrived is idle.
                    part.moved[i] = (.resultWait, min(selfTime, arrival - slices[i].start.nanoseconds))
                }
            default:
                break
            }
        }
        return part
    }

    /// How slice `index`'s own time splits by kind.
    public struct SelfTime: Sendable {
        public var work: Int64 = 0
        public var lockWait: Int64 = 0
        public var ioWait: Int64 = 0
        public var resultWait: Int64 = 0
        /// IPC spent serializing/deserializing (CPU) and transferring.
        public var ipcSerde: Int64 = 0
        public var ipcTransfer: Int64 = 0

        mutating func add(_ o: SelfTime) {
            work += o.work
            lockWait += o.lockWait
            ioWait += o.ioWait
            resultWait += o.resultWait
            ipcSerde += o.ipcSerde
            ipcTransfer += o.ipcTransfer
        }
    }

    /// The split of slice `index`'s own time.
    @inline(__always)
    public func selfTime(of index: Int, in model: TraceModel) -> SelfTime {
        var out = SelfTime()
        var rest = model.slices[index].selfDuration.nanoseconds
        func add(_ kind: SliceKind?, _ t: Int64) {
            switch kind {
            case nil, .work?: out.work += t
            case .lockWait?: out.lockWait += t
            case .ioWait?: out.ioWait += t
            case .resultWait?: out.resultWait += t
            case .ipc?:
                let step = SliceClassifier.ipcStep(name: model.slices[ipcRoot[index] ?? index].name)
                if step == .serialize || step == .deserialize { out.ipcSerde += t } else { out.ipcTransfer += t }
            }
        }
        if !moved.isEmpty, let m = moved[index] {
            add(m.kind, m.time)
            rest -= m.time
        }
        add(kinds[index], rest)
        return out
    }

    /// The IPC cost of slice `index` (its own time minus any wait for the message to arrive).
    func ipcCost(of index: Int, in model: TraceModel) -> Int64 {
        let t = selfTime(of: index, in: model)
        return t.ipcSerde + t.ipcTransfer
    }

    /// A task row's steps ran on its loop's thread: what a step waited for (a `time.sleep` in
    /// a coroutine) is the loop thread's time too. The innermost loop-thread span around each
    /// top-level span of a task row takes the step's waiting, of its most common kind, as part
    /// of its own time.
    static func taskRowWaits(
        model: TraceModel, rows: Set<Int>, kinds: [SliceKind?], moved: inout [Int: (kind: SliceKind, time: Int64)]
    ) {
        guard !rows.isEmpty else { return }
        var loopSlices: [Int64: [Int]] = [:]  // pid → slices of threads that are not task rows
        for (t, thread) in model.threads.enumerated() where !rows.contains(t) {
            loopSlices[thread.pid, default: []] += Array(thread.sliceRange)
        }
        for p in loopSlices.keys { loopSlices[p]!.sort { model.slices[$0].start < model.slices[$1].start } }
        for r in rows.sorted() {
            let thread = model.threads[r]
            guard let candidates = loopSlices[thread.pid] else { continue }
            for k in thread.sliceRange where model.slices[k].depth == 0 {
                let step = model.slices[k]
                var waiting: [SliceKind: Int64] = [:]
                var i = k
                while i < thread.sliceRange.upperBound, i == k || model.slices[i].depth > step.depth {
                    if let kind = kinds[i], kind != .work {
                        waiting[kind, default: 0] += model.slices[i].selfDuration.nanoseconds
                    }
                    i += 1
                }
                guard let (kind, time) = waiting.max(by: { $0.value < $1.value }), time > 0 else { continue }
                // The deepest loop-thread span that covers the step: among those that start at
                // or before it, walking back to the top-level span that covers it.
                var lo = 0
                var hi = candidates.count
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if model.slices[candidates[mid]].start <= step.start { lo = mid + 1 } else { hi = mid }
                }
                var host: Int?
                var j = lo - 1
                while j >= 0 && lo - j <= 10_000 {
                    let s = model.slices[candidates[j]]
                    if s.end >= step.end {
                        if host == nil || s.depth > model.slices[host!].depth { host = candidates[j] }
                        if s.depth == 0 { break }
                    }
                    j -= 1
                }
                if let h = host, moved[h] == nil {
                    moved[h] = (kind, min(time, model.slices[h].selfDuration.nanoseconds))
                }
            }
        }
    }

    /// Waits for the GIL: condition waits on a condition variable, and lock waits on a lock,
    /// whose recorded stack (the first wait on each carries one) shows a GIL function — every
    /// wait on the same variable or lock of that process.
    static func gilWaits(model: TraceModel, names: SliceNames) -> Set<Int> {
        let condKey = TraceVocabulary.Arg.cond.string
        let framesKey = TraceVocabulary.Arg.frames.string
        var condWaits: [(slice: Int, key: String)] = []
        var gilConds: Set<String> = []
        // Only the shim's condition waits (a test per distinct name, none of the slices read
        // when the trace has none).
        let preload = TraceCategory.preload.rawValue
        for i in names.slices(where: { $1 == preload && $0.hasPrefix("pthread_cond_") }) {
            let s = model.slices[i]
            guard let args = s.args.flatMap({ model.arguments.value($0) }),
                let cond = args[condKey]?.stringValue
            else { continue }
            let key = "\(model.threads[s.thread].pid)\u{0}\(cond)"
            condWaits.append((i, key))
            if case .array(let frames)? = args[framesKey], CPython.isGILWait(frames: frames.compactMap(\.stringValue)) {
                gilConds.insert(key)
            }
        }
        var out = Set(condWaits.filter { gilConds.contains($0.key) }.map(\.slice))
        var gilLocks: Set<String> = []
        for w in model.lockWaits where CPython.isGILWait(frames: w.frames) {
            gilLocks.insert("\(model.threads[model.slices[w.slice].thread].pid)\u{0}\(w.lockID)")
        }
        if !gilLocks.isEmpty {
            for w in model.lockWaits
            where gilLocks.contains("\(model.threads[model.slices[w.slice].thread].pid)\u{0}\(w.lockID)") {
                out.insert(w.slice)
            }
        }
        return out
    }

    /// Python-level lock acquires (a tracer's `lock.acquire` spans) that waited while another
    /// thread of the process was inside one native call for most of the wait: a C function holds
    /// the GIL unless it releases it, so the acquire — which needs the GIL back to return — was
    /// waiting for the interpreter, not for the lock (multiprocessing's feeder thread pickling a
    /// large payload makes every other thread's acquires long). Native calls that compute count
    /// (pickling included); those that wait (I/O, sleeps, lock and result waits, transfers)
    /// release the GIL and do not.
    static func gilHeldElsewhere(model: TraceModel, kinds: [SliceKind?], heuristics h: Heuristics) -> Set<Int> {
        var candidates: [Int] = []
        var pythonShaped = SliceNameMemo<Bool>()
        // Categories compared as interned ids (equal ids, equal names): no string per wait.
        let lock = InternedNames.id(TraceCategory.lock.rawValue)
        let preload = InternedNames.id(TraceCategory.preload.rawValue)
        for i in model.slices.indices where kinds[i] == .lockWait {
            let s = model.slices[i]
            if s.categoryID != lock && s.categoryID != preload
                && pythonShaped.value(name: s, CPython.isPythonShaped)
            {
                candidates.append(i)
            }
        }
        guard !candidates.isEmpty else { return [] }
        // Long native calls that compute, by process: (start, end, thread).
        var native: [Int64: [(Int64, Int64, Int)]] = [:]
        var nativeCall = SliceNameMemo<Bool>()
        for i in model.slices.indices
        where model.slices[i].duration.nanoseconds >= h.nativeCallMinimum.nanoseconds
            && (kinds[i] == nil || kinds[i] == .ipc)
        {
            let s = model.slices[i]
            guard nativeCall.value(name: s, CPython.isNativeCall),
                kinds[i] == nil || [.serialize, .deserialize].contains(SliceClassifier.ipcStep(name: s.name))
            else { continue }
            native[model.threads[s.thread].pid, default: []].append((s.start.nanoseconds, s.end.nanoseconds, s.thread))
        }
        var out: Set<Int> = []
        for i in candidates {
            let w = model.slices[i]
            let pid = model.threads[w.thread].pid
            guard let calls = native[pid], w.duration.nanoseconds > 0 else { continue }
            var covered: Int64 = 0
            for c in calls where c.2 != w.thread {
                covered = max(covered, min(c.1, w.end.nanoseconds) - max(c.0, w.start.nanoseconds))
            }
            if Double(covered) >= h.gilHeldShare * Double(w.duration.nanoseconds) { out.insert(i) }
        }
        return out
    }

    /// A lock held around a channel — most of its recorded holds read from a pipe or socket
    /// (the shim counts the bytes a holder moved), or were mostly spent waiting for a message
    /// — is a consumer's lock: the read lock of a queue that several workers take turns to
    /// read (multiprocessing's), so a worker waiting for it is waiting for work, not contending
    /// for shared state; its waits become waits for a result. A lock whose holds mostly wrote
    /// to a channel is a producer's: waiting for it is part of sending (IPC). Locks are known by
    /// address across processes: a queue's lock lives in memory its forked workers share, at
    /// the same address in each; forked copies of a private lock sit at the same address too,
    /// but run the same code, so they play the same part.
    static func consumerLocks(model: TraceModel, kinds: inout [SliceKind?]) {
        guard !model.lockHolds.isEmpty else { return }
        struct Held {
            var holds = 0
            var reading = 0
            var writing = 0
            var total: Int64 = 0
            var waiting: Int64 = 0
        }
        var held: [String: Held] = [:]
        let readKey = TraceVocabulary.Arg.readBytes.string
        let writtenKey = TraceVocabulary.Arg.writtenBytes.string
        for hold in model.lockHolds {
            let h = model.slices[hold.slice]
            let key = "\(hold.lockID)"
            var waiting: Int64 = 0
            var i = hold.slice + 1
            let range = model.threads[h.thread].sliceRange
            while i < range.upperBound, model.slices[i].depth > h.depth {
                if model.slices[i].parent == hold.slice, kinds[i] == .resultWait || kinds[i] == .ipc {
                    waiting += model.slices[i].duration.nanoseconds
                }
                i += 1
            }
            let args = h.args.flatMap { model.arguments.value($0) }
            var entry = held[key] ?? Held()
            entry.holds += 1
            if (args?[readKey]?.intValue ?? 0) > 0 { entry.reading += 1 }
            if (args?[writtenKey]?.intValue ?? 0) > 0 { entry.writing += 1 }
            entry.total += h.duration.nanoseconds
            entry.waiting += waiting
            held[key] = entry
        }
        var becomes: [String: SliceKind] = [:]
        for (key, e) in held where e.holds > 0 {
            if e.reading * 2 >= e.holds || (e.total > 0 && e.waiting * 2 >= e.total) {
                becomes[key] = .resultWait
            } else if e.writing * 2 >= e.holds {
                becomes[key] = .ipc
            }
        }
        guard !becomes.isEmpty else { return }
        for w in model.lockWaits where kinds[w.slice] == .lockWait {
            if let k = becomes["\(w.lockID)"] { kinds[w.slice] = k }
        }
    }

    /// The outermost IPC slice enclosing IPC slice `index`.
    func ipcRoot(of index: Int) -> Int { ipcRoot[index] ?? index }

    /// The first of `sorted` within `from…to`.
    static func first(in sorted: [Int64], from: Int64, to: Int64) -> Int64? {
        var lo = 0
        var hi = sorted.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if sorted[mid] < from { lo = mid + 1 } else { hi = mid }
        }
        return lo < sorted.count && sorted[lo] <= to ? sorted[lo] : nil
    }
}
