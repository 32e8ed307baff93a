import CCTraceFormat
import Dispatch

/// One model's predicted window.
public struct WhatIfRow: Sendable, Equatable {
    public var model: ConcurrencyModel
    /// Threads, processes or executor threads the prediction assumes.
    public var workers: Int
    /// Predicted work window, ns, and its range.
    public var predicted: Int64
    public var low: Int64
    public var high: Int64
    /// The model the program uses now (its row replays the trace as it ran).
    public var isCurrent: Bool
}

/// Stage 5a — what-if: the program's work window under each concurrency model, predicted by
/// replaying the recorded work (``Workload``) on a scheduler simulation (``Simulation``).
///
/// **Method.** The trace's units of work are replayed as they ran first (the current model):
/// that replay must reproduce the measured window, and how far it misses is the error every
/// other prediction carries (its range, never narrower than ``Heuristics/whatIfMargin``). When
/// CPU time was not measured (span time of a thread that queued for a GIL or a core counts as
/// work), the CPU of every unit is scaled down until the replay does reproduce the window. The
/// same work is then rearranged per model and replayed:
/// - *sequential*: every unit on one thread, in the order it could start; locks uncontended,
///   no IPC.
/// - *threads*: the program's threads as they are (from processes: the processes' threads in
///   one process, without the IPC and the start-ups; from one thread with independent units: a
///   pool of one thread per core pulling units from a queue). A GIL, if the trace shows one, is
///   shared.
/// - *processes*: each thread in a process of its own (its locks and GIL its own), each paying
///   a process start-up (measured in the trace, or ``Heuristics/processStart``).
/// - *async*: one event-loop thread; waits become awaits that overlap; CPU is serialized on the
///   loop; critical sections stay exclusive (an async lock).
/// - *hybrid*: a loop whose work runs on a pool of one thread per core: waits overlap, CPU is
///   spread (the units of an event loop become independent tasks).
///
/// **Limits.** The other side of a wait (a server, a disk) is not modelled: it answers as fast
/// as it did, however many requests arrive at once. Memory bandwidth and caches are not
/// modelled (CPU work scales with cores). Data a thread shares with others in memory costs
/// nothing to send as processes (the trace has no payload size for it). Dependencies between
/// threads other than locks and arrivals are not seen (a thread waiting for another's result
/// is replayed as idle). Units of one thread stay in order, except where the trace shows them
/// independent (one thread doing repeated units) or they are an event loop's callbacks.
public struct WhatIf: Sendable {
    /// One row per model that applies, the current one included.
    public var rows: [WhatIfRow]
    /// The measured window, ns.
    public var measured: Int64
    /// The replay of the current model before correction, ns (nil: nothing to replay).
    public var replayed: Int64?
    /// The factor applied to span-time CPU so the replay reproduces the window (1: measured).
    public var cpuScale: Double
    /// The process start-up used for new processes, ns, and whether the trace measured it.
    public var processStart: Int64
    public var processStartMeasured: Bool
    /// Whether CPU work of one process shares an interpreter lock.
    public var gil: Bool
    /// Units of work replayed.
    public var units: Int
    /// Whether the hybrid row comes from the cooperative pool's analysis (Swift tasks) rather
    /// than the replay.
    public var poolEstimate = false

    /// The row of `model`.
    public func row(_ model: ConcurrencyModel) -> WhatIfRow? { rows.first { $0.model == model } }

    /// The workload the replays need, built from the stages before the program's shape; nil
    /// when it would hold more units than `what-if-units` (known before building them, and
    /// their memory).
    ///
    /// `alongside`: other work of the caller's, run once among the workload's threads (as the
    /// first job of the same pool: a thread of its own would make more threads than cores,
    /// and the one left running at the end would leave a core idle).
    static func workload(
        model: TraceModel, classification: SliceClassification, accounting: Accounting, workWindow: WorkWindow,
        loops: [LoopView], heuristics h: Heuristics, inputs: Workload.Inputs? = nil, alongside: () -> Void = {}
    ) -> Workload? {
        guard Workload.unitsAtLeast(model: model, accounting: accounting, loops: loops) <= h.whatIfUnits else {
            alongside()
            return nil
        }
        return Workload(
            model: model, classification: classification, accounting: accounting, workWindow: workWindow,
            loops: loops, heuristics: h, inputs: inputs, alongside: alongside)
    }

    /// The predictions for `profile`'s window.
    public static func predict(
        model: TraceModel, profile p: WorkProfile, pools: PoolBlocking? = nil, heuristics h: Heuristics
    ) -> WhatIf {
        let w = workload(
            model: model, classification: p.classification, accounting: p.accounting, workWindow: p.workWindow,
            loops: p.loops, heuristics: h)
        return predict(
            model: model, profile: p, pools: pools, heuristics: h, workload: w,
            calibration: w.flatMap {
                calibrate(workload: $0, cores: p.cores, gil: p.language == .python, measured: p.window, heuristics: h)
            })
    }

    /// The replay of the work as it ran (the `.now` shape) and the CPU scale with which it
    /// reproduces the measured window.
    struct Calibration: Sendable {
        var now: Int64
        var scale: Double
    }

    /// The process start-up the models assume: the median measured, else the language's default.
    private static func processStart(_ workload: Workload, gil: Bool, heuristics h: Heuristics) -> (Int64, Bool) {
        let starts = workload.processStarts.sorted()
        guard !starts.isEmpty else {
            return (gil ? h.processStartPython.nanoseconds : h.processStart.nanoseconds, false)
        }
        return (starts[starts.count / 2], true)
    }

    /// Replays the work as it ran and finds the CPU scale that reproduces the `measured`
    /// window; nil when there is nothing to replay (no tracks, no window, too many units, or
    /// a replay with nothing in it). Needs only the workload, the cores and whether a GIL
    /// serializes: the pipeline runs it before the program's shape is known.
    static func calibrate(
        workload: Workload, cores: Int, gil: Bool, measured: Int64, heuristics h: Heuristics
    ) -> Calibration? {
        calibrationStart(workload: workload, cores: cores, gil: gil, measured: measured, heuristics: h).map {
            calibrate(from: $0, measured: measured, heuristics: h)
        }
    }

    /// The calibration's first replay (the work as it ran, at the CPU recorded) and, when the
    /// CPU must be scaled to reproduce the window, the first scale its search tries.
    struct CalibrationStart: Sendable {
        /// The `.now` shape, built once and replayed at each scale tried.
        var replay: Simulation.Prepared
        var now: Int64
        /// Nil: the CPU stays as recorded (measured, or the replay already fits the window).
        var guess: Double?
    }

    /// The first step of ``calibrate(workload:cores:gil:measured:heuristics:)``: nil when it
    /// returns nil.
    static func calibrationStart(
        workload: Workload, cores: Int, gil: Bool, measured: Int64, heuristics h: Heuristics
    ) -> CalibrationStart? {
        let units = workload.tracks.reduce(0) { $0 + $1.items.count }
        guard !workload.tracks.isEmpty, measured > 0, units <= h.whatIfUnits else { return nil }
        // The `.now` shape uses neither the start-up nor the independence of units.
        let plan = Plan(
            workload: workload, cores: max(1, cores), gil: gil,
            processStart: processStart(workload, gil: gil, heuristics: h).0, independent: false, workerTracks: 1)
        let replay = plan.simulation(.now).prepared()
        // A replay with nothing in it (every span empty, or only IPC the models drop) predicts
        // nothing: no rows rather than a zero that would read as an infinite speedup.
        guard let now = replay.run(scale: 1), now > 0 else { return nil }
        guard !workload.cpuMeasured && Double(now) > Double(measured) * (1 + h.whatIfMargin / 2) else {
            return CalibrationStart(replay: replay, now: now, guess: nil)
        }
        // Span time overstates CPU when threads queued for a core or a GIL inside their spans:
        // the search starts from the proportional guess.
        return CalibrationStart(
            replay: replay, now: now, guess: max(0.01, min(1, Double(measured) / Double(max(now, 1)))))
    }

    /// The rest of the calibration from `start`. `known`: a replay already run at a scale
    /// (the pipeline runs the first guess beside the models' replays at it); the replay is
    /// deterministic, so it is not run again.
    static func calibrate(
        from start: CalibrationStart, measured: Int64, heuristics h: Heuristics,
        known: (scale: Double, time: Int64?)? = nil
    ) -> Calibration {
        guard let first = start.guess else { return Calibration(now: start.now, scale: 1) }
        func replay(_ scale: Double) -> Int64? {
            if let known, known.scale == scale { return known.time }
            return start.replay.run(scale: scale)
        }
        var now = start.now
        // Find the CPU that reproduces the window. The replay grows with the CPU, nearly in
        // proportion where CPU bounds it: secant steps from the proportional guess, bounded.
        var lo = (scale: 0.01, time: Int64(0))
        var hi = (scale: 1.0, time: now)
        var guess = first
        // The replay is deterministic: the last one run is not run again at the same scale.
        var last: (scale: Double, time: Int64)? = nil
        for _ in 0..<5 {
            guard let t = replay(guess) else { break }
            last = (guess, t)
            if abs(Double(t - measured)) <= Double(measured) * h.whatIfMargin / 4 {
                lo = (guess, t)
                hi = (guess, t)
                break
            }
            if t > measured { hi = (guess, t) } else { lo = (guess, t) }
            let span = Double(hi.time - lo.time)
            guess = span > 0 ? lo.scale + (hi.scale - lo.scale) * Double(measured - lo.time) / span : guess
            guess = min(hi.scale, max(lo.scale, guess))
        }
        if let last, last.scale == guess {
            now = last.time
        } else {
            now = replay(guess) ?? now
        }
        return Calibration(now: now, scale: guess)
    }

    /// The models' replays at one CPU scale (the current model's is the calibration's).
    struct ModelReplays: Sendable {
        var scale: Double
        /// Per model of ``models(profile:workload:heuristics:)``: its time, and its time without
        /// the CPU outside spans of threads that moved data between processes (when needed).
        var results: [(time: Int64?, bare: Int64?)]
    }

    /// The plan of the models' replays for `p`, and the models wanted (the current one among
    /// them, with the `.now` shape).
    private static func models(profile p: WorkProfile, workload: Workload, heuristics h: Heuristics)
        -> (plan: Plan, wanted: [(model: ConcurrencyModel, shape: Plan.Shape)])
    {
        let gil = p.language == .python
        let (start, _) = processStart(workload, gil: gil, heuristics: h)
        let current = p.currentModel
        // One thread whose units the trace shows independent can be spread; a chain cannot.
        let single = workload.tracks.count == 1 && !p.chainLike && workload.tracks[0].items.count > 1
        let workerThreads = Set(p.workers.map(\.thread))
        let plan = Plan(
            workload: workload, cores: max(1, p.cores), gil: gil, processStart: start, independent: single,
            workerTracks: max(1, workload.tracks.filter { workerThreads.contains($0.thread) }.count))
        var wanted: [(model: ConcurrencyModel, shape: Plan.Shape)] = []
        for m in [ConcurrencyModel.sequential, .threads, .processes, .async, .hybrid] {
            if m == current {
                wanted.append((m, .now))
            } else if let s = plan.shape(for: m, current: current) {
                wanted.append((m, s))
            }
        }
        return (plan, wanted)
    }

    /// Replays every model but the current one at `scale`, on every core (they are
    /// independent); `beside`, more work run among them (the pipeline's calibration replay).
    static func replayModels(
        profile p: WorkProfile, workload: Workload, heuristics h: Heuristics, scale: Double,
        beside extra: (@Sendable () -> Int64?)? = nil
    ) -> (replays: ModelReplays, extra: Int64?) {
        let (plan, wanted) = models(profile: p, workload: workload, heuristics: h)
        let current = p.currentModel
        let bareNeeded = workload.tracks.contains(where: \.ipc)
        // Slot 0 holds the extra job's time when there is one, then a slot per model.
        let offset = extra == nil ? 0 : 1
        var slots = [(time: Int64?, bare: Int64?)](repeating: (nil, nil), count: wanted.count + offset)
        slots.withUnsafeMutableBufferPointer { buffer in
            let out = UnsafeSendable(buffer)
            let job = UnsafeSendable((plan, wanted, scale, current))
            // The extra job first: it is as long as the longest replay. The sequential shape
            // last: one task, so its steps are the cheapest to replay (no other task to share
            // the cores with), and the shortest job is the one to end on.
            let jobs =
                wanted.indices.filter { !Self.isSequential(wanted[$0].shape) }
                + wanted.indices.filter { Self.isSequential(wanted[$0].shape) }
            DispatchQueue.concurrentPerform(iterations: wanted.count + offset) { j in
                if j < offset {
                    out.value[0] = (extra!(), nil)
                    return
                }
                let k = jobs[j - offset]
                let (plan, wanted, scale, current) = job.value
                guard wanted[k].model != current else { return }
                let shape = wanted[k].shape
                let t = plan.simulation(shape, scale: scale).run()
                // CPU outside any span on a thread that moved data between processes may be the
                // messages' handling (buffers allocated, filled and freed around each
                // transfer): a model without the IPC may not do it at all — the low end
                // assumes it does not.
                let bare =
                    bareNeeded && plan.dropsIPC(shape)
                    ? plan.simulation(shape, scale: scale, untracedIPCWork: false).run() : nil
                out.value[k + offset] = (t, bare)
            }
        }
        return (
            ModelReplays(scale: scale, results: Array(slots.dropFirst(offset))), offset > 0 ? slots[0].time : nil
        )
    }

    private static func isSequential(_ shape: Plan.Shape) -> Bool {
        if case .sequential = shape { return true }
        return false
    }

    /// The predictions for `profile`'s window from a workload built before (nil: too many units).
    /// `replays`: the models' replays run before (used when at the calibration's scale).
    static func predict(
        model: TraceModel, profile p: WorkProfile, pools: PoolBlocking?, heuristics h: Heuristics,
        workload: Workload?, calibration: Calibration?, replays: ModelReplays? = nil
    ) -> WhatIf {
        guard let workload else {
            return WhatIf(
                rows: [], measured: p.window, replayed: nil, cpuScale: 1, processStart: 0, processStartMeasured: false,
                gil: p.language == .python,
                units: Workload.unitsAtLeast(model: model, accounting: p.accounting, loops: p.loops))
        }
        let gil = p.language == .python
        let measured = p.window
        let (start, startMeasured) = processStart(workload, gil: gil, heuristics: h)
        var out = WhatIf(
            rows: [], measured: measured, replayed: nil, cpuScale: 1, processStart: start,
            processStartMeasured: startMeasured, gil: gil, units: workload.tracks.reduce(0) { $0 + $1.items.count })
        guard let calibration else { return out }
        let current = p.currentModel
        let (plan, wanted) = models(profile: p, workload: workload, heuristics: h)
        let now = calibration.now
        let scale = calibration.scale
        out.replayed = now
        out.cpuScale = scale
        let ratio = Double(measured) / Double(max(now, 1))
        let margin = max(h.whatIfMargin, abs(1 - ratio))
        // Replays run before at another scale are no use.
        let replays =
            replays.flatMap { $0.scale == scale ? $0.results : nil }
            ?? replayModels(profile: p, workload: workload, heuristics: h, scale: scale).replays.results
        for (k, (m, shape)) in wanted.enumerated() {
            if m == current {
                out.rows.append(
                    WhatIfRow(
                        model: m, workers: plan.workers(shape), predicted: measured, low: measured, high: measured,
                        isCurrent: true))
                continue
            }
            // A model under which nothing is left to do (the only work was IPC it removes) has no
            // wall time to predict: no row.
            guard let t = replays[k].time, t > 0 else { continue }
            let predicted = nanos(Double(t) * ratio)
            guard predicted > 0 else { continue }
            // A replay that missed the measured window by half or more is off by a factor, not
            // by a share: the low end divides by it (a range never reaches zero or below).
            let lowFactor = margin < 0.5 ? 1 - margin : 1 / (1 + margin)
            var low = Double(predicted) * lowFactor
            if let bare = replays[k].bare { low = min(low, Double(bare) * ratio * lowFactor) }
            out.rows.append(
                WhatIfRow(
                    model: m, workers: plan.workers(shape), predicted: predicted, low: nanos(low),
                    high: nanos(Double(predicted) * (1 + margin)), isCurrent: false))
        }
        // Swift tasks on the cooperative pool: a task's next job waits for what it awaited (a
        // child, a continuation) — dependencies the replay of threads does not follow. Moving
        // the blocking calls off the pool is predicted by the pool's analysis instead: between
        // the pool's CPU on its threads and the tasks' waits overlapped, and their sum.
        if let pool = pools?.pools.first(where: { $0.severity == .warning }), pool.expectedWindow > 0 {
            let lo = max(pool.computeBound, pool.latencyBound)
            let hi = pool.computeBound + pool.latencyBound
            out.rows.removeAll { $0.model == .hybrid }
            out.rows.append(
                WhatIfRow(
                    model: .hybrid, workers: pool.threads, predicted: pool.expectedWindow,
                    low: nanos(Double(min(lo, pool.expectedWindow)) * (1 - h.whatIfMargin)),
                    high: nanos(Double(max(hi, pool.expectedWindow)) * (1 + h.whatIfMargin)), isCurrent: false))
            out.poolEstimate = true
        }
        return out
    }
}

/// How the recorded work is rearranged for each model.
private struct Plan {
    enum Shape {
        case now
        /// All units on one thread.
        case sequential
        /// The threads as they are, in one process (from processes: no IPC, no start-ups).
        case threadsMerged
        /// A pool of `n` threads (or processes) pulling independent units from a queue.
        case pool(n: Int, processes: Bool)
        /// Each thread in a process of its own.
        case processPerThread
        /// One loop thread (`slots` 1) or a loop over a pool (`slots` cores); waits overlap.
        case loop(slots: Int, unitsIndependent: Bool)
    }

    var workload: Workload
    var cores: Int
    var gil: Bool
    var processStart: Int64
    var independent: Bool
    /// Tracks of the window's workers (what a row's worker count says).
    var workerTracks: Int

    func shape(for model: ConcurrencyModel, current: ConcurrencyModel) -> Shape? {
        let threaded = current == .threads || current == .processes || current == .sequential
        switch model {
        case .sequential:
            return threaded ? .sequential : nil
        case .threads:
            if current == .processes { return .threadsMerged }
            if current == .sequential && independent { return .pool(n: cores, processes: false) }
            return nil
        case .processes:
            if current == .threads { return .processPerThread }
            if current == .sequential && independent { return .pool(n: cores, processes: true) }
            return nil
        case .async:
            return threaded ? .loop(slots: 1, unitsIndependent: independent) : nil
        case .hybrid:
            if threaded { return .loop(slots: cores, unitsIndependent: independent) }
            // An event loop's callbacks are independent events: offloaded, they overlap.
            return workload.tracks.contains(where: \.loop) ? .loop(slots: cores, unitsIndependent: true) : nil
        }
    }

    /// Whether `shape` runs the work without moving it between processes.
    func dropsIPC(_ shape: Shape) -> Bool {
        switch shape {
        case .now: return false
        default: return true
        }
    }

    func workers(_ shape: Shape) -> Int {
        switch shape {
        case .now, .threadsMerged, .processPerThread: return workerTracks
        case .sequential: return 1
        case .pool(let n, _): return n
        case .loop(let slots, _): return slots
        }
    }

    /// The steps of `item` (a unit of `track`) under a model: `ipc` kept or dropped, waits
    /// blocking or awaited, locks kept (renamed by `lock`) or dropped, CPU outside spans
    /// dropped when `dropUntracedCPU` (CPU is scaled by the simulation's `cpuScale`).
    func steps(
        _ item: Workload.Item, of track: Workload.Track, ipc: Bool, awaits: Bool, lock: ((Int) -> Int)?,
        release: Int64? = nil, dropUntracedCPU: Bool = false
    ) -> [Simulation.Step] {
        var out: [Simulation.Step] = []
        out.reserveCapacity(item.steps.count + 1)
        append(
            item, of: track, to: &out, ipc: ipc, awaits: awaits, lock: lock, release: release,
            dropUntracedCPU: dropUntracedCPU)
        return out
    }

    /// ``steps(_:of:ipc:awaits:lock:release:dropUntracedCPU:)`` appended to a task's steps
    /// (no array per unit: a replay of a million units would allocate a million).
    func append(
        _ item: Workload.Item, of track: Workload.Track, to out: inout [Simulation.Step], ipc: Bool, awaits: Bool,
        lock: ((Int) -> Int)?, release: Int64? = nil, dropUntracedCPU: Bool = false
    ) {
        out.append(.notBefore(release ?? item.release))
        for k in item.steps {
            switch track.steps[k] {
            case .cpu(let n): out.append(.cpu(n))
            case .untracedCPU(let n): if !dropUntracedCPU { out.append(.cpu(n)) }
            case .wait(let n): out.append(awaits ? .await(n) : .wait(n))
            case .ipcCPU(let n): if ipc { out.append(.cpu(n)) }
            case .ipcWait(let n): if ipc { out.append(awaits ? .await(n) : .wait(n)) }
            case .acquire(let l): if let lock { out.append(.acquire(lock(l))) }
            case .release(let l): if let lock { out.append(.release(lock(l))) }
            }
        }
    }

    /// A track's units without its process start-up (threads start in microseconds).
    func releases(_ track: Workload.Track) -> [Int64] {
        guard track.startup > 0, let first = track.items.first else { return track.items.map(\.release) }
        let shift = min(track.startup, first.release)
        return track.items.map { max(0, $0.release - shift) }
    }

    /// The simulation of `shape`; without `untracedIPCWork`, threads that moved data between
    /// processes lose their CPU outside spans.
    func simulation(_ shape: Shape, scale: Double = 1, untracedIPCWork: Bool = true) -> Simulation {
        var sim = Simulation(cores: cores)
        sim.cpuScale = scale
        sim.gil = gil
        let tracks = workload.tracks
        // Without `untracedIPCWork`: the CPU outside spans of threads that moved data between
        // processes is dropped.
        let dropUntraced = tracks.map { !untracedIPCWork && $0.ipc }
        var pids: [Int64: Int] = [:]
        for t in tracks where pids[t.pid] == nil { pids[t.pid] = pids.count }
        switch shape {
        case .now:
            for (k, t) in tracks.enumerated() {
                var out: [Simulation.Step] = []
                out.reserveCapacity(t.steps.count + t.items.count)
                for item in t.items {
                    append(
                        item, of: t, to: &out, ipc: true, awaits: false, lock: { $0 }, dropUntracedCPU: dropUntraced[k])
                }
                sim.tasks.append(.init(steps: out, process: pids[t.pid] ?? 0))
            }
        case .sequential:
            // Every unit by release, ties in track order then unit order: a merge of the tracks
            // (each in release order, as units come in time), else a stable radix order.
            let rel = tracks.map { releases($0) }
            var out: [Simulation.Step] = []
            out.reserveCapacity(tracks.reduce(0) { $0 + $1.steps.count + $1.items.count })
            tracks.withUnsafeBufferPointer { tracks in
                func emit(_ k: Int, _ i: Int) {
                    append(
                        tracks[k].items[i], of: tracks[k], to: &out, ipc: false, awaits: false, lock: nil,
                        release: rel[k][i], dropUntracedCPU: dropUntraced[k])
                }
                if rel.allSatisfy({ r in r.indices.dropFirst().allSatisfy { r[$0 - 1] <= r[$0] } }) {
                    // A heap of each track's next unit by (release, track).
                    var heap: [(release: Int64, track: Int)] = []
                    func less(_ a: (release: Int64, track: Int), _ b: (release: Int64, track: Int)) -> Bool {
                        a.release != b.release ? a.release < b.release : a.track < b.track
                    }
                    func push(_ e: (release: Int64, track: Int)) {
                        heap.append(e)
                        var c = heap.count - 1
                        while c > 0 {
                            let p = (c - 1) / 2
                            guard less(heap[c], heap[p]) else { break }
                            heap.swapAt(c, p)
                            c = p
                        }
                    }
                    func popMin() -> Int {
                        let top = heap[0].track
                        let last = heap.removeLast()
                        if !heap.isEmpty {
                            heap[0] = last
                            var c = 0
                            while true {
                                let l = 2 * c + 1
                                guard l < heap.count else { break }
                                let r = l + 1
                                let m = r < heap.count && less(heap[r], heap[l]) ? r : l
                                guard less(heap[m], heap[c]) else { break }
                                heap.swapAt(c, m)
                                c = m
                            }
                        }
                        return top
                    }
                    var next = [Int](repeating: 0, count: rel.count)
                    for k in rel.indices where !rel[k].isEmpty { push((rel[k][0], k)) }
                    while !heap.isEmpty {
                        let k = popMin()
                        emit(k, next[k])
                        next[k] += 1
                        if next[k] < rel[k].count { push((rel[k][next[k]], k)) }
                    }
                } else {
                    var all: [(track: Int32, item: Int32)] = []
                    var keys: [Int64] = []
                    for k in rel.indices {
                        for i in rel[k].indices {
                            all.append((Int32(k), Int32(i)))
                            keys.append(rel[k][i])
                        }
                    }
                    for u in stableOrder(of: keys) {
                        let (k, i) = all[Int(u)]
                        emit(Int(k), Int(i))
                    }
                }
            }
            sim.tasks = [.init(steps: out, process: 0)]
        case .threadsMerged:
            for (k, t) in tracks.enumerated() {
                var out: [Simulation.Step] = []
                out.reserveCapacity(t.steps.count + t.items.count)
                for (item, r) in zip(t.items, releases(t)) {
                    append(
                        item, of: t, to: &out, ipc: false, awaits: false, lock: { $0 }, release: r,
                        dropUntracedCPU: dropUntraced[k])
                }
                sim.tasks.append(.init(steps: out, process: 0))
            }
        case .pool(let n, let processes):
            let units = tracks.indices.flatMap { k in tracks[k].items.map { (track: k, item: $0) } }
                .sorted { $0.item.release < $1.item.release }
            sim.queue = units.map {
                steps(
                    $0.item, of: tracks[$0.track], ipc: false, awaits: false, lock: nil,
                    dropUntracedCPU: dropUntraced[$0.track])
            }
            for i in 0..<n {
                let startup: [Simulation.Step] = processes ? [.wait(processStart)] : []
                sim.tasks.append(.init(steps: startup, process: processes ? i : 0, pullsFromQueue: true))
            }
        case .processPerThread:
            var keys: [Int: Int] = [:]
            for (i, t) in tracks.enumerated() {
                // Each process has its own copy of every lock (and of the interpreter).
                func own(_ l: Int) -> Int {
                    let k = l &* 4096 &+ i
                    if let v = keys[k] { return v }
                    keys[k] = keys.count
                    return keys.count - 1
                }
                let startup = t.startup > 0 ? t.startup : processStart
                var out: [Simulation.Step] = [.wait(startup)]
                out.reserveCapacity(t.steps.count + t.items.count + 1)
                for (item, r) in zip(t.items, releases(t)) {
                    append(
                        item, of: t, to: &out, ipc: false, awaits: false, lock: own, release: r,
                        dropUntracedCPU: dropUntraced[i])
                }
                sim.tasks.append(.init(steps: out, process: i))
            }
        case .loop(let slots, let unitsIndependent):
            sim.executors = [slots]
            // On a loop over a pool of processes (Python's asyncio with a process pool) the CPU
            // work does not share one interpreter lock.
            if slots > 1 { sim.gil = false }
            for (k, t) in tracks.enumerated() {
                if unitsIndependent || t.loop {
                    for (item, r) in zip(t.items, releases(t)) {
                        sim.tasks.append(
                            .init(
                                steps: steps(
                                    item, of: t, ipc: false, awaits: true, lock: { $0 }, release: r,
                                    dropUntracedCPU: dropUntraced[k]),
                                process: 0, executor: 0))
                    }
                } else {
                    // One task: its units' steps appended in place (no array per unit).
                    var out: [Simulation.Step] = []
                    out.reserveCapacity(t.steps.count + t.items.count)
                    for (item, r) in zip(t.items, releases(t)) {
                        append(
                            item, of: t, to: &out, ipc: false, awaits: true, lock: { $0 }, release: r,
                            dropUntracedCPU: dropUntraced[k])
                    }
                    sim.tasks.append(.init(steps: out, process: 0, executor: 0))
                }
            }
        }
        return sim
    }
}

/// `d` nanoseconds as an `Int64`, saturating: a hostile trace's times can be near `Int64.max`,
/// and their products with ratios must not trap.
func nanos(_ d: Double) -> Int64 {
    guard d.isFinite else { return d > 0 ? .max : 0 }
    if d >= 9.2e18 { return .max }
    if d <= -9.2e18 { return .min }
    return Int64(d)
}
