import CCTraceFormat
import Dispatch

/// The recorded work of a trace, as ``WhatIf`` replays it: per thread, its units of work (top-
/// level spans) as steps — CPU, waits, critical sections, IPC — with when each unit could start.
///
/// What is kept and what is recomputed:
/// - **Kept**: CPU time (measured from the scheduler's readings where the trace has them, span
///   time otherwise), waits with their latency (I/O, sleeps, span time off the CPU that no wait
///   names), critical sections (cctrace's `lock hold` slices), IPC (serialization as CPU,
///   transfer as a wait) and when work arrived (a unit that began after its thread sat idle
///   could not have begun earlier).
/// - **Recomputed by the simulation**: lock waits, time runnable but not running, waiting for a
///   GIL — they are what a model changes.
struct Workload: Sendable {
    /// One step of recorded work.
    enum Step: Sendable, Equatable {
        case cpu(Int64)
        /// CPU outside any span (the scheduler saw the thread run, no span says what for).
        case untracedCPU(Int64)
        /// Blocking on I/O, a sleep, or off the CPU for a reason no span names.
        case wait(Int64)
        /// Moving data to or from another process: serializing (CPU) and transferring (a wait).
        case ipcCPU(Int64)
        case ipcWait(Int64)
        /// A critical section (lock key, unique within the trace).
        case acquire(Int)
        case release(Int)
    }

    /// A unit of work: a top-level span and what it contained.
    struct Item: Sendable {
        /// When it could start, ns from the window's start.
        var release: Int64
        /// Whether its thread sat idle before it (it arrived), rather than reaching it from the
        /// previous unit.
        var arrived: Bool
        /// Where its steps are in its track's ``Track/steps`` (one array per track, not one
        /// per unit: a workload has hundreds of thousands of units).
        var steps: Range<Int>
    }

    /// One thread's work.
    struct Track: Sendable {
        var pid: Int64
        var thread: Int
        var items: [Item]
        /// Every unit's steps, unit after unit.
        var steps: [Step]
        /// The thread runs an event loop (its units are callbacks of independent events).
        var loop: Bool
        /// The process's start-up before its first unit, when this thread's process was started
        /// during the trace (its `process start` slice), ns.
        var startup: Int64 = 0
        /// Whether the thread moved data to or from another process.
        let ipc: Bool

        init(pid: Int64, thread: Int, items: [Item], steps: [Step], loop: Bool, startup: Int64) {
            self.pid = pid
            self.thread = thread
            self.items = items
            self.steps = steps
            self.loop = loop
            self.startup = startup
            ipc = steps.contains {
                switch $0 {
                case .ipcCPU, .ipcWait: return true
                default: return false
                }
            }
        }
    }

    var tracks: [Track]
    /// The window replayed, ns.
    var window: Int64
    /// Start-ups of processes started during the trace (`process start`: spawn to first event), ns.
    var processStarts: [Int64] { tracks.map(\.startup).filter { $0 > 0 } }
    /// Whether CPU figures were measured (else span time, an upper bound).
    var cpuMeasured: Bool

    /// A lower bound of the units the workload would hold, without building it: on a thread
    /// that is not an event loop every top-level span is a unit or holds units, but for the
    /// one span everything may nest under.
    static func unitsAtLeast(model: TraceModel, accounting: Accounting, loops: [LoopView]) -> Int {
        let loopThreads = Set(loops.map(\.thread))
        var n = 0
        for w in accounting.threads where w.split.busy > 0 && !loopThreads.contains(w.thread) {
            n += max(0, (accounting.topLevelSpans[w.thread] ?? 0) - 1)
        }
        return n
    }

    /// What the workload reads that needs only the classification and the loops: each
    /// thread's unit parent (``ProgramShape/unitParent(of:slices:c:heuristics:topLevel:)``, which the
    /// program's shape reads too), where the program takes its locks, the loops' callbacks.
    /// The pipeline finds them beside the accounting.
    struct Inputs: Sendable {
        /// By thread.
        var unitParents: [Int]
        /// By thread, its top-level spans counted as units (what the program's shape reads
        /// when the unit parent is -1), found in the unit parent's pass.
        var topLevelUnits: [ProgramShape.Units]
        var sites: CriticalSections
        var callbacks: [Int: Set<Int>]
        /// ``Workload/pairFacts(_:)`` of the classification's pairs.
        var pairFacts: [UInt8]

        init(model: TraceModel, classification: SliceClassification, loops: [LoopView], heuristics h: Heuristics) {
            pairFacts = Workload.pairFacts(classification.names)
            var topLevelUnits: [ProgramShape.Units] = []
            unitParents = model.threads.map {
                var topLevel = ProgramShape.UnitTally()
                let parent = ProgramShape.unitParent(
                    of: $0.sliceRange, slices: model.slices, c: classification, heuristics: h, topLevel: &topLevel)
                topLevelUnits.append(topLevel.units)
                return parent
            }
            self.topLevelUnits = topLevelUnits
            sites = CriticalSections(model: model, classification: classification)
            callbacks = [:]
            for loop in loops where loop.thread >= 0 {
                callbacks[loop.thread, default: []].formUnion(loop.callbacks)
            }
        }
    }

    /// Extracts the workload of the work window from `model` (the stages it needs come before
    /// the program's shape, so it can be built beside that); `inputs` when found before;
    /// `alongside`, other work run once as the first job among the threads'. `skipping`: spans
    /// that change no step are not walked (false: every span is, the reference the skipping
    /// must agree with).
    init(
        model: TraceModel, classification: SliceClassification, accounting: Accounting, workWindow: WorkWindow,
        loops: [LoopView], heuristics h: Heuristics, inputs: Inputs? = nil, alongside: () -> Void = {},
        skipping: Bool = true
    ) {
        let ws = workWindow.start.nanoseconds
        let we = ws + workWindow.length
        window = workWindow.length
        cpuMeasured = workWindow.cpuMeasured
        let inputs = inputs ?? Inputs(model: model, classification: classification, loops: loops, heuristics: h)
        let callbacks = inputs.callbacks
        let sites = inputs.sites
        let unitParents = inputs.unitParents
        var jobs: [(thread: Int, from: Int64, to: Int64)] = []
        for w in accounting.threads where w.split.busy > 0 && !workWindow.parked.contains(w.thread) {
            guard let active = accounting.activity[w.thread] else { continue }
            let from = max(ws, active.from)
            let to = min(we, max(active.to, from))
            guard to > from else { continue }
            jobs.append((w.thread, from, to))
        }
        // Threads are read independently: on every core.
        var built = [Track?](repeating: nil, count: jobs.count)
        built.withUnsafeMutableBufferPointer { buffer in
            withoutActuallyEscaping(alongside) { alongside in
                let out = UnsafeSendable(buffer)
                let input = UnsafeSendable(
                    (model, classification, sites, callbacks, jobs, unitParents, inputs.pairFacts))
                let other = UnsafeSendable(alongside)
                DispatchQueue.concurrentPerform(iterations: jobs.count + 1) { j in
                    guard j > 0 else {
                        other.value()
                        return
                    }
                    let k = j - 1
                    let (model, classification, sites, callbacks, jobs, unitParents, pairFacts) = input.value
                    let job = jobs[k]
                    var startup: Int64 = 0
                    let unitParent = unitParents[job.thread]
                    let (items, steps) = Self.items(
                        model: model, thread: job.thread, from: job.from, to: job.to, windowStart: ws,
                        classification: classification, sites: sites, callbacks: callbacks[job.thread] ?? [],
                        unitParent: unitParent, pairFacts: pairFacts, skipping: skipping, startup: &startup,
                        heuristics: h)
                    // Units are kept only with steps: none means nothing to replay.
                    guard !items.isEmpty else { return }
                    out.value[k] = Track(
                        pid: model.threads[job.thread].pid, thread: job.thread, items: items, steps: steps,
                        loop: callbacks[job.thread] != nil, startup: startup)
                }
            }
        }
        self.tracks = built.compactMap { $0 }
    }

    /// One thread's units of work between `from` and `to`.
    private static func items(
        model: TraceModel, thread index: Int, from: Int64, to: Int64, windowStart ws: Int64,
        classification c: SliceClassification, sites: CriticalSections, callbacks: Set<Int>, unitParent: Int,
        pairFacts: [UInt8], skipping: Bool, startup: inout Int64,
        heuristics h: Heuristics
    ) -> (items: [Item], steps: [Step]) {
        let thread = model.threads[index]
        let slices = model.slices
        let range = thread.sliceRange
        let lo = range.lowerBound
        // Parents before children: by start, longer first, shallower first. The importer
        // already stores a thread's slices in that order; sort only when it did not.
        func before(_ i: Int, _ j: Int) -> Bool {
            let a = slices[i].start
            let b = slices[j].start
            if a != b { return a < b }
            let da = slices[i].duration
            let db = slices[j].duration
            if da != db { return da > db }
            return slices[i].depth < slices[j].depth
        }
        // Each slice's own kind of time, from what its name says (start-up, annotation, IPC
        // step: a table per (name, category) pair, read through the classification's pair
        // column). An annotation's ancestors are read on demand (the importer puts parents
        // first; other models may not).
        let pairOf = c.names.pairOf
        func kind(of i: Int) -> StepKind {
            var k = i
            while true {
                let bits = pairFacts[Int(pairOf[k])]
                // A process's start-up is the model's to decide (none with threads).
                if k == i, bits & Self.startupBit != 0 { return StepKind.none }
                // An annotation (a lock hold, a loop iteration) is time of whatever encloses it.
                guard bits & Self.annotationBit != 0 else { break }
                let parent = slices[k].parent
                guard parent >= 0 else { return .work }
                k = parent
            }
            switch c.kinds[k] {
            case nil, .work?: return .work
            case .lockWait?: return StepKind.none  // recomputed
            case .resultWait?: return .resultWait  // waiting for other workers: they are simulated
            case .ioWait?: return .wait
            case .ipc?: return pairFacts[Int(pairOf[k])] & Self.ipcCPUBit != 0 ? .ipcCPU : .ipcWait
            }
        }

        // Pass 1: the thread's time as intervals of one kind each, with lock and unit marks.
        // Without CPU readings they become units as they come (pass 3 needs nothing more);
        // with them they are kept for pass 2. The slices are walked in index order, checking
        // that order as it goes (the one pass over them), and again sorted if it finds them
        // out of order (nil: it stopped there).
        let readings = thread.cpu?.samples ?? []
        let threadSites = sites.sites(pid: thread.pid)
        func walkSlices(sortedOrder: [Int]?) -> (walk: ThreadWalk, startup: Int64)? {
            var startup: Int64 = 0
            var walk = ThreadWalk(
                from: from, to: to, callbacks: callbacks, recording: !readings.isEmpty,
                units: UnitAssembler(windowStart: ws, arrivalGap: h.arrivalGap.nanoseconds, release: from - ws))
            if walk.recording { walk.marks.reserveCapacity(2 * range.count + 2) }
            var siteOf = SliceNameMemo<(lock: Int, lead: Int64)?>()
            let ahead = SlicePrefetch(slices)
            for k in 0..<range.count {
                let i: Int
                if let sortedOrder {
                    i = sortedOrder[k]
                } else {
                    i = lo + k
                    ahead.ahead(of: i)
                    if i > lo, before(i, i - 1) { return nil }
                }
                let s = slices[i]
                guard s.end.nanoseconds > from, s.start.nanoseconds < to else { continue }
                while let top = walk.stack.last, top.end <= s.start.nanoseconds {
                    walk.interval(to: top.end)
                    walk.close()
                }
                // A unit: an event loop's callback; else a child of the span everything nests
                // under, or a top-level span beside it.
                let isCallback = !callbacks.isEmpty && callbacks.contains(i)
                let unit =
                    !callbacks.isEmpty
                    ? isCallback && walk.callbackDepth == 0
                    : unitParent < 0
                        ? walk.stack.isEmpty : (s.parent == unitParent || (walk.stack.isEmpty && i != unitParent))
                let isStartup = pairFacts[Int(pairOf[i])] & Self.startupBit != 0
                let k = kind(of: i)
                // A span inside the open one and of its kind, that starts no unit, takes no
                // lock and is no callback, changes no step: adjacent steps of one kind are one
                // step. It is not walked (its children are: their enclosing kind is the same).
                // Not with CPU readings, whose split is computed per interval.
                if skipping, !unit, !isStartup, !walk.recording, callbacks.isEmpty, threadSites.isEmpty,
                    walk.pendingAcquire == nil, let top = walk.stack.last, top.kind == k,
                    s.end.nanoseconds <= top.end
                {
                    continue
                }
                walk.interval(to: s.start.nanoseconds)
                if isStartup { startup = max(startup, s.duration.nanoseconds) }
                if unit && c.kinds[i] != .resultWait && !isStartup {
                    walk.emit(.item(max(s.start.nanoseconds, from)))
                }
                var lock: Int? = nil
                if !threadSites.isEmpty, walk.pendingAcquire == nil,
                    let site = siteOf.value(name: s, { threadSites[$0] })
                {
                    lock = site.lock
                    walk.held[site.lock, default: 0] += 1
                    if walk.held[site.lock] == 1 {
                        // Where this call acquired it (its wait), else where calls of it usually do.
                        let at = sites.firstWait[i] ?? min(s.end.nanoseconds, s.start.nanoseconds + site.lead)
                        walk.pendingAcquire = (max(at, from), site.lock)
                    }
                }
                walk.push(end: s.end.nanoseconds, kind: k, lock: lock, callback: isCallback)
            }
            while let top = walk.stack.last {
                walk.interval(to: top.end)
                walk.close()
            }
            walk.interval(to: to)
            return (walk, startup)
        }
        guard let walked = walkSlices(sortedOrder: nil) ?? walkSlices(sortedOrder: range.sorted(by: before)) else {
            preconditionFailure("a walk in sorted order always ends")
        }
        var walk = walked.walk
        startup = walked.startup
        guard walk.recording else {
            walk.units.finishItem()
            return (walk.units.items, walk.units.steps)
        }

        // Pass 2: the CPU readings' running time shared over the time that could have used it
        // (work and untraced gaps), runnable time dropped (the simulation recomputes it).
        var usable = [Int64](repeating: 0, count: readings.count)
        func overlapping(_ a: Int64, _ b: Int64, _ body: (Int, Int64) -> Void) {
            // Readings are in time order; a binary search finds the first that ends after `a`.
            var lo = 0
            var hi = readings.count
            while lo < hi {
                let m = (lo + hi) / 2
                if readings[m].end.nanoseconds <= a { lo = m + 1 } else { hi = m }
            }
            var r = lo
            while r < readings.count, readings[r].start.nanoseconds < b {
                let o = min(b, readings[r].end.nanoseconds) - max(a, readings[r].start.nanoseconds)
                if o > 0 { body(r, o) }
                r += 1
            }
        }
        // IPC takes its share too: copying a payload through a pipe is CPU, which belongs to
        // the IPC (dropped or kept with it), not to the work beside it.
        for case .interval(let k, let a, let b) in walk.marks
        where k == .work || k == .gap || k == .ipcCPU || k == .ipcWait {
            overlapping(a, b) { r, o in usable[r] += o }
        }
        /// (cpu, runnable) shares of usable time per reading.
        let shares: [(cpu: Double, runnable: Double)] = readings.indices.map { r in
            let len = Double(readings[r].end.nanoseconds - readings[r].start.nanoseconds)
            let u = Double(usable[r])
            guard u > 0 else { return (0, 0) }
            let cpu = min(1, readings[r].running * len / u)
            return (cpu, min(1 - cpu, readings[r].runnable * len / u))
        }
        func split(_ a: Int64, _ b: Int64) -> (cpu: Int64, runnable: Int64, covered: Int64) {
            var cpu = 0.0
            var runnable = 0.0
            var covered: Int64 = 0
            overlapping(a, b) { r, o in
                cpu += Double(o) * shares[r].cpu
                runnable += Double(o) * shares[r].runnable
                covered += o
            }
            return (Int64(cpu), Int64(runnable), covered)
        }

        // Pass 3: units of work.
        var units = walk.units
        for m in walk.marks {
            if case .interval(let k, let a, let b) = m, k == .work || k == .gap {
                units.interval(k, a, b, measured: split(a, b))
            } else {
                units.take(m)
            }
        }
        units.finishItem()
        return (units.items, units.steps)
    }

    private static let startupBit: UInt8 = 1
    private static let annotationBit: UInt8 = 2
    private static let ipcCPUBit: UInt8 = 4

    /// Per (name, category) pair of `names`, what its name says to the workload: a start-up,
    /// an annotation, an IPC step that is CPU (bits).
    static func pairFacts(_ names: SliceNames) -> [UInt8] {
        names.perPair { name, category in
            let step = SliceClassifier.ipcStep(name: name)
            let startup =
                category == TraceCategory.process.rawValue && name == TraceVocabulary.Event.processStart.string
            let annotation = Accounting.isAnnotation(name: name, category: category)
            let ipcCPU = step == .serialize || step == .deserialize
            return (startup ? startupBit : 0) | (annotation ? annotationBit : 0) | (ipcCPU ? ipcCPUBit : 0)
        }
    }
}

/// What a stretch of a thread's time was, as the replay keeps it.
private enum StepKind: UInt8 {
    case work, gap, wait, ipcCPU, ipcWait, resultWait, none
}

/// A thread's time in order: an interval of one kind, a lock taken or given back, a unit
/// beginning.
private enum Mark {
    case interval(StepKind, Int64, Int64)
    case acquire(Int)
    case release(Int)
    case item(Int64)
}

/// Pass 1's state: the open spans, the time read up to, the lock about to be taken.
private struct ThreadWalk {
    let from: Int64
    let to: Int64
    let callbacks: Set<Int>
    /// Keep the marks (the thread has CPU readings, which need them all first), rather than
    /// handing them to `units` as they come.
    let recording: Bool
    var units: UnitAssembler
    var marks: [Mark] = []
    /// The open spans: where each ends and its kind of time (kept here rather than read back
    /// from the slices, which lie far behind the walk), the lock it holds, whether it is a
    /// callback.
    var stack: [(end: Int64, kind: StepKind, lock: Int?, callback: Bool)] = []
    /// How many open spans are event-loop callbacks.
    var callbackDepth = 0
    var cursor: Int64
    /// A critical section begins inside its span (after the work that precedes the acquire).
    var pendingAcquire: (at: Int64, lock: Int)? = nil
    var held: [Int: Int] = [:]

    init(from: Int64, to: Int64, callbacks: Set<Int>, recording: Bool, units: UnitAssembler) {
        self.from = from
        self.to = to
        self.callbacks = callbacks
        self.recording = recording
        self.units = units
        cursor = from
    }

    mutating func emit(_ m: Mark) {
        if recording { marks.append(m) } else { units.take(m) }
    }

    mutating func push(end: Int64, kind: StepKind, lock: Int?, callback: Bool) {
        stack.append((end, kind, lock, callback))
        if callback { callbackDepth += 1 }
    }

    mutating func interval(to end: Int64) {
        let e = min(max(end, from), to)
        guard e > cursor || pendingAcquire != nil else { return }
        // The kind of time here: the innermost open span's. On an event loop, waiting outside
        // every callback is the loop waiting for its next event (its poll): the work after it
        // arrived then. (Read in place: a method of `self` called here would copy it.)
        var here = StepKind.gap
        if let top = stack.last {
            here = top.kind
            if here == .wait, callbackDepth == 0, !callbacks.isEmpty { here = .gap }
        }
        if let p = pendingAcquire, p.at <= e {
            let at = min(max(p.at, cursor), e)
            if at > cursor { emit(.interval(here, cursor, at)) }
            emit(.acquire(p.lock))
            cursor = max(cursor, at)
            pendingAcquire = nil
        }
        if e > cursor { emit(.interval(here, cursor, e)) }
        cursor = max(cursor, e)
    }

    mutating func close() {
        let top = stack.removeLast()
        if top.callback { callbackDepth -= 1 }
        guard let l = top.lock else { return }
        held[l, default: 1] -= 1
        guard held[l] == 0 else { return }
        if let p = pendingAcquire, p.lock == l {
            pendingAcquire = nil  // the span ended before its acquire: nothing was held
        } else {
            emit(.release(l))
        }
    }
}

/// Pass 3's state: marks become units of work, each a run of steps; adjacent steps of one
/// kind are one step (summed before they are written).
private struct UnitAssembler {
    typealias Step = Workload.Step
    let windowStart: Int64
    let arrivalGap: Int64
    var items: [Workload.Item] = []
    /// The track's steps; the current unit's begin at `itemStart`.
    var steps: [Step] = []
    var itemStart = 0
    /// The step being summed: its kind (0: none; 1 cpu, 2 untraced CPU, 3 wait, 4 IPC CPU,
    /// 5 IPC wait) and its length so far.
    var pendingTag: UInt8 = 0
    var pendingValue: Int64 = 0
    var idleBefore: Int64 = 0
    var gapBefore: Int64 = 0
    var pendingRelease: Int64
    var arrived = true

    init(windowStart: Int64, arrivalGap: Int64, release: Int64) {
        self.windowStart = windowStart
        self.arrivalGap = arrivalGap
        pendingRelease = release
    }

    mutating func flush() {
        switch pendingTag {
        case 1: steps.append(.cpu(pendingValue))
        case 2: steps.append(.untracedCPU(pendingValue))
        case 3: steps.append(.wait(pendingValue))
        case 4: steps.append(.ipcCPU(pendingValue))
        case 5: steps.append(.ipcWait(pendingValue))
        default: break
        }
        pendingTag = 0
        pendingValue = 0
    }

    mutating func add(_ tag: UInt8, _ value: Int64) {
        if tag == pendingTag {
            pendingValue += value
            return
        }
        flush()
        pendingTag = tag
        pendingValue = value
    }

    mutating func finishItem() {
        flush()
        if steps.count > itemStart {
            items.append(Workload.Item(release: pendingRelease, arrived: arrived, steps: itemStart..<steps.count))
        }
        itemStart = steps.count
    }

    /// A mark, for a thread without CPU readings.
    mutating func take(_ m: Mark) {
        switch m {
        case .item(let at):
            // A unit its thread waited for (idle at least `arrivalGap` just before) arrived
            // then; one reached straight from the previous unit was ready when that one was.
            // Idle means off the CPU for most of the untraced stretch: a few scattered
            // milliseconds in CPU readings taken every ~20 ms are the readings' resolution
            // (a thread that lost a GIL, was preempted), not a wait for input.
            let cameAfterIdle = idleBefore >= arrivalGap && idleBefore * 2 >= gapBefore
            let previous = items.last?.release ?? pendingRelease
            finishItem()
            arrived = cameAfterIdle || items.isEmpty
            pendingRelease = arrived ? at - windowStart : max(previous, pendingRelease)
            idleBefore = 0
            gapBefore = 0
        case .acquire(let l):
            flush()
            steps.append(.acquire(l))
        case .release(let l):
            flush()
            steps.append(.release(l))
        case .interval(let k, let a, let b):
            interval(k, a, b, measured: nil)
        }
    }

    /// An interval of kind `k`; `measured`, the CPU readings' split of it (CPU, runnable, the
    /// time they cover) when the thread has readings.
    mutating func interval(
        _ k: StepKind, _ a: Int64, _ b: Int64, measured: (cpu: Int64, runnable: Int64, covered: Int64)?
    ) {
        let len = b - a
        switch k {
        case .none: break
        // Waiting for a result of work the replay runs itself: neither an arrival nor a
        // latency to keep (the replay does not follow that dependency; see WhatIf).
        case .resultWait: break
        case .wait: add(3, len)
        case .ipcCPU: add(4, len)
        case .ipcWait: add(5, len)
        case .work, .gap:
            var cpu = k == .work ? len : 0
            var off: Int64 = k == .work ? 0 : len
            if let s = measured {
                let uncovered = len - s.covered
                // Outside the readings: spans are CPU, gaps are idle.
                cpu = s.cpu + (k == .work ? uncovered : 0)
                off = max(0, len - cpu - s.runnable)
                if k == .gap { off = max(0, s.covered - s.cpu - s.runnable) + uncovered }
            }
            if cpu > 0 { add(k == .work ? 1 : 2, cpu) }
            if k == .work {
                if off > 0 { add(3, off) }
            } else {
                idleBefore += off
                gapBefore += len
            }
        }
    }
}

/// Where the program takes its locks: a span that waited for a lock once (the call that holds
/// it: the lock wait's parent span, or a recorded hold's) takes it every time it runs — code
/// takes its locks the same way on every call, contended or not, while cctrace records only
/// the contended ones. The critical section runs from where the acquire usually is in that
/// span (the median lead from the span's start to its waits) to the span's end.
struct CriticalSections {
    /// Per process and span name: the lock (a key unique in the trace) and the lead, ns.
    private var sites: [Int64: [String: (lock: Int, lead: Int64)]] = [:]
    /// Per span with a lock wait inside: when its first wait began.
    var firstWait: [Int: Int64] = [:]

    init(model: TraceModel, classification c: SliceClassification) {
        var keys: [String: Int] = [:]
        struct Site: Hashable {
            var pid: Int64
            var name: String
        }
        var leads: [Site: [Int64]] = [:]
        var lockOf: [Site: Int] = [:]
        func add(slice: Int, lock: String, lockID: Int64, lead: Int64?) {
            let s = model.slices[slice]
            guard s.parent >= 0 else { return }
            let pid = model.threads[s.thread].pid
            let lockKey = "\(pid)\u{0}\(lockID)\u{0}\(lock)"
            let lk = keys[lockKey] ?? keys.count
            keys[lockKey] = lk
            let site = Site(pid: pid, name: model.slices[s.parent].name)
            if lockOf[site] == nil { lockOf[site] = lk }
            if let lead { leads[site, default: []].append(lead) }
        }
        for w in model.lockWaits where !c.gilWaits.contains(w.slice) {
            let s = model.slices[w.slice]
            guard s.parent >= 0 else { continue }
            let parent = model.slices[s.parent]
            add(slice: w.slice, lock: w.lock, lockID: w.lockID, lead: s.start.nanoseconds - parent.start.nanoseconds)
            firstWait[s.parent] = min(firstWait[s.parent] ?? .max, s.start.nanoseconds)
        }
        for hold in model.lockHolds { add(slice: hold.slice, lock: hold.lock, lockID: hold.lockID, lead: nil) }
        for (site, lock) in lockOf {
            let l = (leads[site] ?? []).sorted()
            sites[site.pid, default: [:]][site.name] = (lock, l.isEmpty ? 0 : l[l.count / 2])
        }
    }

    /// The critical sections of process `pid`'s spans, by span name.
    func sites(pid: Int64) -> [String: (lock: Int, lead: Int64)] { sites[pid] ?? [:] }
}
