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
        var steps: [Step]
    }

    /// One thread's work.
    struct Track: Sendable {
        var pid: Int64
        var thread: Int
        var items: [Item]
        /// The thread runs an event loop (its units are callbacks of independent events).
        var loop: Bool
        /// The process's start-up before its first unit, when this thread's process was started
        /// during the trace (its `process start` slice), ns.
        var startup: Int64 = 0
        /// Whether the thread moved data to or from another process.
        var ipc: Bool {
            items.contains {
                $0.steps.contains {
                    switch $0 {
                    case .ipcCPU, .ipcWait: return true
                    default: return false
                    }
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

    /// Extracts the workload of `profile`'s window from `model`.
    /// A lower bound of the units the workload would hold, without building it: on a thread
    /// that is not an event loop every top-level span is a unit or holds units, but for the
    /// one span everything may nest under.
    static func unitsAtLeast(model: TraceModel, accounting: Accounting, loops: [LoopView]) -> Int {
        let loopThreads = Set(loops.map(\.thread))
        var n = 0
        for w in accounting.threads where w.split.busy > 0 && !loopThreads.contains(w.thread) {
            var top = 0
            for k in model.threads[w.thread].sliceRange where model.slices[k].depth == 0 { top += 1 }
            n += max(0, top - 1)
        }
        return n
    }

    /// Extracts the workload of the work window from `model` (the stages it needs come before
    /// the program's shape, so it can be built beside that).
    init(
        model: TraceModel, classification: SliceClassification, accounting: Accounting, workWindow: WorkWindow,
        loops: [LoopView], heuristics h: Heuristics
    ) {
        let ws = workWindow.start.nanoseconds
        let we = ws + workWindow.length
        window = workWindow.length
        cpuMeasured = workWindow.cpuMeasured
        var callbacks: [Int: Set<Int>] = [:]
        for loop in loops where loop.thread >= 0 { callbacks[loop.thread, default: []].formUnion(loop.callbacks) }
        let sites = CriticalSections(model: model, classification: classification)
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
            let out = UnsafeSendable(buffer)
            let input = UnsafeSendable((model, classification, sites, callbacks, jobs))
            DispatchQueue.concurrentPerform(iterations: jobs.count) { k in
                let (model, classification, sites, callbacks, jobs) = input.value
                let job = jobs[k]
                var startup: Int64 = 0
                let items = Self.items(
                    model: model, thread: job.thread, from: job.from, to: job.to, windowStart: ws,
                    classification: classification, sites: sites, callbacks: callbacks[job.thread] ?? [],
                    startup: &startup, heuristics: h)
                guard items.contains(where: { !$0.steps.isEmpty }) else { return }
                out.value[k] = Track(
                    pid: model.threads[job.thread].pid, thread: job.thread, items: items,
                    loop: callbacks[job.thread] != nil, startup: startup)
            }
        }
        self.tracks = built.compactMap { $0 }
    }

    /// One thread's units of work between `from` and `to`.
    private static func items(
        model: TraceModel, thread index: Int, from: Int64, to: Int64, windowStart ws: Int64,
        classification c: SliceClassification, sites: CriticalSections, callbacks: Set<Int>,
        startup: inout Int64,
        heuristics h: Heuristics
    ) -> [Item] {
        let thread = model.threads[index]
        // Pass 1: the thread's time as intervals of one kind each, with lock and unit marks.
        enum Kind { case work, gap, wait, ipcCPU, ipcWait, resultWait, none }
        // Units are the top-level spans, or the children of the span everything nests under.
        let unitParent = ProgramShape.unitParent(of: thread.sliceRange, slices: model.slices, c: c, heuristics: h)
        enum Mark { case interval(Kind, Int64, Int64), acquire(Int), release(Int), item(Int64) }
        var marks: [Mark] = []
        // Parents before children: by start, longer first, shallower first. The importer
        // already stores a thread's slices in that order; sort only when it did not.
        func before(_ i: Int, _ j: Int) -> Bool {
            let a = model.slices[i].start
            let b = model.slices[j].start
            if a != b { return a < b }
            let da = model.slices[i].duration
            let db = model.slices[j].duration
            if da != db { return da > db }
            return model.slices[i].depth < model.slices[j].depth
        }
        let range = thread.sliceRange
        let ordered = range.count < 2 || (range.lowerBound..<(range.upperBound - 1)).allSatisfy { !before($0 + 1, $0) }
        let order = ordered ? Array(range) : range.sorted(by: before)
        let threadSites = sites.sites(pid: thread.pid)
        var siteOf = SliceNameMemo<(lock: Int, lead: Int64)?>()
        // What each slice's name says (start-up, annotation, IPC step), once per name, read into
        // a constant first: the nested functions below only read it (a memo they shared and
        // mutated would be checked for exclusive access at run time on every call).
        var factBits = [UInt8](repeating: 0, count: range.count)
        do {
            var names = SliceNameMemo<UInt8>()
            for i in range {
                factBits[i - range.lowerBound] = names.value(model.slices[i]) { name, category in
                    let step = SliceClassifier.ipcStep(name: name)
                    let startup =
                        category == TraceCategory.process.rawValue && name == TraceVocabulary.Event.processStart.string
                    let annotation = Accounting.isAnnotation(name: name, category: category)
                    let ipcCPU = step == .serialize || step == .deserialize
                    return (startup ? 1 : 0) | (annotation ? 2 : 0) | (ipcCPU ? 4 : 0)
                }
            }
        }
        let nameFacts = factBits
        func facts(_ i: Int) -> (startup: Bool, annotation: Bool, ipcCPU: Bool) {
            let b = nameFacts[i - range.lowerBound]
            return (b & 1 != 0, b & 2 != 0, b & 4 != 0)
        }
        func isStartup(_ i: Int) -> Bool { facts(i).startup }
        func computeKind(_ open: Int) -> Kind {
            var i = open
            // A process's start-up is the model's to decide (none with threads).
            if facts(i).startup { return .none }
            // An annotation (a lock hold, a loop iteration) is time of whatever encloses it.
            while facts(i).annotation {
                let parent = model.slices[i].parent
                guard parent >= 0 else { return .work }
                i = parent
            }
            switch c.kinds[i] {
            case nil, .work?: return .work
            case .lockWait?: return .none  // recomputed
            case .resultWait?: return .resultWait  // waiting for other workers: they are simulated
            case .ioWait?: return .wait
            case .ipc?: return facts(i).ipcCPU ? .ipcCPU : .ipcWait
            }
        }
        // Each slice's kind, computed once (intervals ask for the open slice's many times).
        var kinds = [Kind?](repeating: nil, count: range.count)
        func kind(of open: Int?) -> Kind {
            guard let i = open else { return .gap }
            if let k = kinds[i - range.lowerBound] { return k }
            let k = computeKind(i)
            kinds[i - range.lowerBound] = k
            return k
        }
        var stack: [(slice: Int, lock: Int?)] = []
        var cursor = from
        // A critical section begins inside its span (after the work that precedes the acquire).
        var pendingAcquire: (at: Int64, lock: Int)? = nil
        var held: [Int: Int] = [:]
        // On an event loop, waiting outside every callback is the loop waiting for its next
        // event (its poll): the work after it arrived then.
        func kindHere() -> Kind {
            let k = kind(of: stack.last?.slice)
            if !callbacks.isEmpty, k == .wait, !stack.contains(where: { callbacks.contains($0.slice) }) { return .gap }
            return k
        }
        func interval(to end: Int64) {
            let e = min(max(end, from), to)
            if let p = pendingAcquire, p.at <= e {
                let at = min(max(p.at, cursor), e)
                if at > cursor { marks.append(.interval(kindHere(), cursor, at)) }
                marks.append(.acquire(p.lock))
                cursor = max(cursor, at)
                pendingAcquire = nil
            }
            if e > cursor { marks.append(.interval(kindHere(), cursor, e)) }
            cursor = max(cursor, e)
        }
        func close() {
            let top = stack.removeLast()
            guard let l = top.lock else { return }
            held[l, default: 1] -= 1
            guard held[l] == 0 else { return }
            if let p = pendingAcquire, p.lock == l {
                pendingAcquire = nil  // the span ended before its acquire: nothing was held
            } else {
                marks.append(.release(l))
            }
        }
        for i in order {
            guard model.slices[i].end.nanoseconds > from, model.slices[i].start.nanoseconds < to else { continue }
            let s = model.slices[i]
            while let top = stack.last, model.slices[top.slice].end <= s.start {
                interval(to: model.slices[top.slice].end.nanoseconds)
                close()
            }
            interval(to: s.start.nanoseconds)
            // A unit: an event loop's callback; else a child of the span everything nests under,
            // or a top-level span beside it.
            let unit =
                !callbacks.isEmpty
                ? callbacks.contains(i) && !stack.contains { callbacks.contains($0.slice) }
                : unitParent < 0 ? stack.isEmpty : (s.parent == unitParent || (stack.isEmpty && i != unitParent))
            if isStartup(i) { startup = max(startup, s.duration.nanoseconds) }
            if unit && c.kinds[i] != .resultWait && !isStartup(i) {
                marks.append(.item(max(s.start.nanoseconds, from)))
            }
            var lock: Int? = nil
            if !threadSites.isEmpty, pendingAcquire == nil, let site = siteOf.value(name: s, { threadSites[$0] }) {
                lock = site.lock
                held[site.lock, default: 0] += 1
                if held[site.lock] == 1 {
                    // Where this call acquired it (its wait), else where calls of it usually do.
                    let at = sites.firstWait[i] ?? min(s.end.nanoseconds, s.start.nanoseconds + site.lead)
                    pendingAcquire = (max(at, from), site.lock)
                }
            }
            stack.append((i, lock))
        }
        while let top = stack.last {
            interval(to: model.slices[top.slice].end.nanoseconds)
            close()
        }
        interval(to: to)

        // Pass 2: the CPU readings' running time shared over the time that could have used it
        // (work and untraced gaps), runnable time dropped (the simulation recomputes it).
        let readings = thread.cpu?.samples ?? []
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
        if !readings.isEmpty {
            // IPC takes its share too: copying a payload through a pipe is CPU, which belongs to
            // the IPC (dropped or kept with it), not to the work beside it.
            for case .interval(let k, let a, let b) in marks
            where k == .work || k == .gap || k == .ipcCPU || k == .ipcWait {
                overlapping(a, b) { r, o in usable[r] += o }
            }
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
        var items: [Item] = []
        var steps: [Step] = []
        var idleBefore: Int64 = 0
        var gapBefore: Int64 = 0
        var pendingRelease = from - ws
        var arrived = true
        func append(_ step: Step) {
            switch (steps.last, step) {
            case (.cpu(let a)?, .cpu(let b)): steps[steps.count - 1] = .cpu(a + b)
            case (.untracedCPU(let a)?, .untracedCPU(let b)): steps[steps.count - 1] = .untracedCPU(a + b)
            case (.wait(let a)?, .wait(let b)): steps[steps.count - 1] = .wait(a + b)
            case (.ipcCPU(let a)?, .ipcCPU(let b)): steps[steps.count - 1] = .ipcCPU(a + b)
            case (.ipcWait(let a)?, .ipcWait(let b)): steps[steps.count - 1] = .ipcWait(a + b)
            default: steps.append(step)
            }
        }
        func finishItem() {
            if !steps.isEmpty { items.append(Item(release: pendingRelease, arrived: arrived, steps: steps)) }
            steps = []
        }
        for m in marks {
            switch m {
            case .item(let at):
                // A unit its thread waited for (idle at least `arrivalGap` just before) arrived
                // then; one reached straight from the previous unit was ready when that one was.
                // Idle means off the CPU for most of the untraced stretch: a few scattered
                // milliseconds in CPU readings taken every ~20 ms are the readings' resolution
                // (a thread that lost a GIL, was preempted), not a wait for input.
                let cameAfterIdle = idleBefore >= h.arrivalGap.nanoseconds && idleBefore * 2 >= gapBefore
                let previous = items.last?.release ?? pendingRelease
                finishItem()
                arrived = cameAfterIdle || items.isEmpty
                pendingRelease = arrived ? at - ws : max(previous, pendingRelease)
                idleBefore = 0
                gapBefore = 0
            case .acquire(let l): append(.acquire(l))
            case .release(let l): append(.release(l))
            case .interval(let k, let a, let b):
                let len = b - a
                switch k {
                case .none: break
                // Waiting for a result of work the replay runs itself: neither an arrival nor a
                // latency to keep (the replay does not follow that dependency; see WhatIf).
                case .resultWait: break
                case .wait: append(.wait(len))
                case .ipcCPU: append(.ipcCPU(len))
                case .ipcWait: append(.ipcWait(len))
                case .work, .gap:
                    var cpu = k == .work ? len : 0
                    var off: Int64 = k == .work ? 0 : len
                    if !readings.isEmpty {
                        let s = split(a, b)
                        let uncovered = len - s.covered
                        // Outside the readings: spans are CPU, gaps are idle.
                        cpu = s.cpu + (k == .work ? uncovered : 0)
                        off = max(0, len - cpu - s.runnable - (k == .work ? 0 : 0))
                        if k == .gap { off = max(0, s.covered - s.cpu - s.runnable) + uncovered }
                    }
                    if cpu > 0 { append(k == .work ? .cpu(cpu) : .untracedCPU(cpu)) }
                    if k == .work {
                        if off > 0 { append(.wait(off)) }
                    } else {
                        idleBefore += off
                        gapBefore += len
                    }
                }
            }
        }
        finishItem()
        return items
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
