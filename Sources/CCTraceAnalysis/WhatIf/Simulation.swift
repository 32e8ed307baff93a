/// A small scheduler simulation: tasks made of CPU bursts, waits and critical sections, run on
/// a machine with a number of cores, executors with a number of threads, locks and
/// interpreter locks — the engine behind ``WhatIf``.
///
/// The model, and why each part is what it is:
/// - **Cores are shared fairly** (processor sharing with max-min fairness): the Linux scheduler
///   (CFS/EEVDF) gives runnable threads equal shares over any stretch longer than its ~3 ms
///   slice, which is short next to the bursts that decide a window.
/// - **An interpreter lock (GIL) is a one-core group**: CPython hands its lock over every 5 ms
///   (`sys.getswitchinterval`), so over longer stretches the threads of one process that want
///   to run Python share one core fairly. Waits release it.
/// - **Locks are exclusive and FIFO**: waiters are served in order, the hold lasts as long as
///   the work inside it (which may include waits — a lock held across I/O).
/// - **Executors have slots**: an event loop has one thread, a pool a few; a task holds a slot
///   while it computes or blocks in a call, and gives it back when it awaits (a non-blocking
///   wait) or reaches an arrival it must wait for. Tasks that want a busy executor queue FIFO.
/// - **Waits are latency**: a wait lasts as long as it did in the trace, whatever else runs
///   (the other side — a disk, a server — is not modelled; see ``WhatIf`` for the limits).
struct Simulation {
    /// One step of a task.
    enum Step: Sendable, Equatable {
        /// CPU work, nanoseconds on one core.
        case cpu(Int64)
        /// A blocking wait (holds the thread, and the executor slot when there is one).
        case wait(Int64)
        /// A non-blocking wait (an `await`): gives the executor slot back while it lasts.
        case await(Int64)
        /// Not before this time (an arrival the program does not control).
        case notBefore(Int64)
        case acquire(Int)
        case release(Int)
    }

    /// A task: its steps, the process whose interpreter lock it shares (when `gil`), and the
    /// executor whose slot it needs to compute or block (nil: a thread of its own).
    struct Task: Sendable {
        var steps: [Step]
        var process: Int
        var executor: Int?
        /// A worker of a pool: when its steps run out it takes the next item of ``Simulation/queue``.
        var pullsFromQueue = false
    }

    var cores: Int
    /// Slots per executor.
    var executors: [Int] = []
    /// Whether CPU work of one process shares one interpreter lock.
    var gil = false
    var tasks: [Task] = []
    /// Items for workers that pull from a queue, in order.
    var queue: [[Step]] = []

    /// CPU steps are run as `nanos(Double(n) * cpuScale)`: a calibration replays one
    /// simulation at several scales without building its steps again.
    var cpuScale: Double = 1

    /// The time at which every task has finished (ns), or nil when the tasks cannot finish
    /// (a lock never released) or the simulation exceeds `eventLimit`.
    func run(eventLimit: Int = 20_000_000) -> Int64? {
        prepared().run(scale: cpuScale, eventLimit: eventLimit)
    }

    /// The simulation as the engine reads it, built once for any number of runs.
    func prepared() -> Prepared { Prepared(self) }

    /// Every task's steps, then every queue item's, in one array (no array of arrays to retain
    /// per step), lock ids made dense: what each run of the engine reads and never writes.
    struct Prepared: Sendable {
        let cores: Int
        let gil: Bool
        let executors: [Int]
        let flat: [Step]
        /// Where each task's steps are in ``flat``.
        let starts: [Int]
        let ends: [Int]
        /// Where each queue item's steps are in ``flat``.
        let queue: [Range<Int>]
        let process: [Int]
        let executor: [Int?]
        let pulls: [Bool]
        let lockCount: Int

        init(_ s: Simulation) {
            cores = s.cores
            gil = s.gil
            executors = s.executors
            var flat: [Step] = []
            flat.reserveCapacity(s.tasks.reduce(0) { $0 + $1.steps.count } + s.queue.reduce(0) { $0 + $1.count })
            var starts: [Int] = []
            var ends: [Int] = []
            for t in s.tasks {
                starts.append(flat.count)
                flat.append(contentsOf: t.steps)
                ends.append(flat.count)
            }
            var queue: [Range<Int>] = []
            for q in s.queue {
                let b = flat.count
                flat.append(contentsOf: q)
                queue.append(b..<flat.count)
            }
            // Lock ids as dense indexes.
            var lockIndex: [Int: Int] = [:]
            func dense(_ l: Int) -> Int {
                if let i = lockIndex[l] { return i }
                lockIndex[l] = lockIndex.count
                return lockIndex.count - 1
            }
            for k in flat.indices {
                switch flat[k] {
                case .acquire(let l): flat[k] = .acquire(dense(l))
                case .release(let l): flat[k] = .release(dense(l))
                default: break
                }
            }
            lockCount = lockIndex.count
            self.flat = flat
            self.starts = starts
            self.ends = ends
            self.queue = queue
            process = s.tasks.map(\.process)
            executor = s.tasks.map(\.executor)
            pulls = s.tasks.map(\.pullsFromQueue)
        }

        /// The time at which every task has finished with CPU steps scaled by `scale` (see
        /// ``Simulation/cpuScale``), or nil (see ``Simulation/run(eventLimit:)``).
        func run(scale: Double, eventLimit: Int = 20_000_000) -> Int64? {
            // The engine reads the steps through a pointer (no bounds check or retain per step):
            // valid for the run, which ends inside this closure.
            flat.withUnsafeBufferPointer { steps in
                var state = Engine(self, steps: steps, scale: scale)
                defer { state.free() }
                return state.run(eventLimit: eventLimit)
            }
        }
    }
}

/// The simulation's running state.
private struct Engine {
    typealias Step = Simulation.Step
    enum Status {
        case ready, computing, waiting, blockedOnLock, queuedForSlot, done
    }

    var cores: Double
    var gil: Bool
    /// What CPU steps are multiplied by.
    let scale: Double
    /// Every task's steps, then every queue item's (``Simulation/Prepared``): a task runs
    /// `flat[position[t]..<end[t]]`.
    let flat: UnsafeBufferPointer<Step>
    // Per task, written on every step: columns behind a pointer (an array in a struct pays a
    // copy-on-write check per write), freed by `free()`.
    let position: Column<Int>
    let end: Column<Int>
    let taskCount: Int
    /// Where each queue item's steps are in ``flat``.
    let queue: [Range<Int>]
    let process: [Int]
    let executor: [Int?]
    let pulls: [Bool]
    let status: Column<Status>
    let holdsSlot: Column<Bool>
    /// Remaining CPU (computing) in ns, as Double for fractional progress.
    let remaining: Column<Double>
    let wakeAt: Column<Int64>
    var freeSlots: [Int]
    var slotQueue: [[Int]]
    var slotQueueHead: [Int]
    /// Per lock (ids made dense in `init`): its owner or -1, and its FIFO of waiting tasks
    /// (`lockQueue[l][lockQueueHead[l]...]`) — arrays, not dictionaries: a replay takes and
    /// gives back locks hundreds of thousands of times.
    var lockOwner: [Int]
    var lockQueue: [[Int]]
    var lockQueueHead: [Int]
    var queueHead = 0
    var now: Double = 0
    var finished = 0
    var lastFinish: Double = 0
    var computing: [Int] = []
    /// Without a GIL: computing tasks by the virtual time at which they finish.
    var shared: MinHeap<Double>
    var virtual: Double = 0
    /// Scratch buffers reused by every step of the run.
    var still: [Int] = []
    var rates: [Double] = []
    var waits: MinHeap<Int64>
    /// Tasks that can move now, a stack (a task is on it at most once: it is put there when it
    /// becomes ready, and taken off before it can become ready again).
    let readyList: Column<Int>
    var readyCount: Int
    /// Per number of computing tasks, each one's share of a core, and one over it.
    let shares: Column<Double>
    let inverseShares: Column<Double>

    init(_ s: Simulation.Prepared, steps: UnsafeBufferPointer<Step>, scale: Double) {
        cores = Double(max(1, s.cores))
        gil = s.gil
        self.scale = scale
        flat = steps
        position = Column(s.starts)
        end = Column(s.ends)
        queue = s.queue
        lockOwner = Array(repeating: -1, count: s.lockCount)
        lockQueue = Array(repeating: [], count: s.lockCount)
        lockQueueHead = Array(repeating: 0, count: s.lockCount)
        let n = s.starts.count
        taskCount = n
        process = s.process
        executor = s.executor
        pulls = s.pulls
        status = Column(repeating: .ready, count: n)
        holdsSlot = Column(repeating: false, count: n)
        remaining = Column(repeating: 0, count: n)
        wakeAt = Column(repeating: 0, count: n)
        freeSlots = s.executors.map { max(1, $0) }
        slotQueue = Array(repeating: [], count: s.executors.count)
        slotQueueHead = Array(repeating: 0, count: s.executors.count)
        readyList = Column(Array(0..<n))
        readyCount = n
        // Per count of computing tasks, each one's share of a core and its inverse: a step
        // reads them rather than dividing (divisions are a step's slowest instructions, on the
        // path from one step to the next).
        let c = Double(max(1, s.cores))
        shares = Column((0...n).map { $0 > 0 ? min(1, c / Double($0)) : 0 })
        inverseShares = Column((0...n).map { $0 > 0 ? max(1, Double($0) / c) : 0 })
        shared = MinHeap(capacity: n, zero: 0)
        waits = MinHeap(capacity: n, zero: 0)
    }

    /// Frees the columns.
    func free() {
        position.free()
        end.free()
        status.free()
        holdsSlot.free()
        remaining.free()
        wakeAt.free()
        readyList.free()
        shares.free()
        inverseShares.free()
        shared.free()
        waits.free()
    }

    mutating func makeReady(_ t: Int) {
        precondition(readyCount < taskCount, "a task made ready twice")
        readyList[readyCount] = t
        readyCount += 1
    }

    mutating func run(eventLimit: Int) -> Int64? {
        var events = 0
        while true {
            // Instantaneous transitions first, until every task is computing, waiting or blocked.
            while readyCount > 0 {
                readyCount -= 1
                advance(readyList[readyCount])
            }
            if finished == taskCount { return Int64(lastFinish.rounded()) }
            events += 1
            if events > eventLimit { return nil }
            if !gil {
                guard stepShared() else { return nil }
                continue
            }
            // With a GIL shares differ by process: max-min fair rates for every computing task.
            var r: [Double] = []
            swap(&r, &rates)
            cpuRates(into: &r)
            swap(&r, &rates)
            var next = Double.infinity
            for (k, t) in computing.enumerated() where rates[k] > 0 {
                next = min(next, now + remaining[t] / rates[k])
            }
            if let w = waits.top { next = min(next, Double(w.time)) }
            guard next.isFinite else { return nil }  // nothing can move: a lock never released
            let dt = max(0, next - now)
            now = next
            still.removeAll(keepingCapacity: true)
            for (k, t) in computing.enumerated() {
                remaining[t] -= rates[k] * dt
                // Sub-nanosecond leftovers are rounding, not work.
                if remaining[t] <= 0.5 {
                    status[t] = .ready
                    position[t] += 1
                    makeReady(t)
                } else {
                    still.append(t)
                }
            }
            swap(&computing, &still)
            wake()
        }
    }

    /// One step without a GIL: every computing task gets the same share, at most one core each
    /// — processor sharing. Virtual time advances at that share; a task finishes when it has
    /// advanced by its CPU, so the next finish is the heap's top: O(log n) a step rather than a
    /// pass over every computing task. False when nothing can move.
    mutating func stepShared() -> Bool {
        let n = shared.count
        let rate = shares[n]
        var next = Double.infinity
        if let top = shared.top, rate > 0 { next = now + max(0, top.time - virtual) * inverseShares[n] }
        if let w = waits.top { next = min(next, Double(w.time)) }
        guard next.isFinite else { return false }  // nothing can move: a lock never released
        virtual += rate * max(0, next - now)
        now = next
        // Sub-nanosecond leftovers are rounding, not work.
        while let top = shared.top, top.time <= virtual + 0.5 {
            shared.pop()
            let t = top.task
            status[t] = .ready
            position[t] += 1
            makeReady(t)
        }
        if let w = waits.top, Double(w.time) <= now + 0.5 { wake() }
        return true
    }

    /// Tasks whose wait ends now become ready.
    mutating func wake() {
        while let w = waits.top, Double(w.time) <= now + 0.5 {
            waits.pop()
            let t = w.task
            guard status[t] == .waiting, wakeAt[t] == w.time else { continue }
            status[t] = .ready
            position[t] += 1
            makeReady(t)
        }
    }

    /// Moves task `t` through steps that take no time, up to one that does.
    mutating func advance(_ t: Int) {
        while true {
            if position[t] >= end[t] {
                if pulls[t] && queueHead < queue.count {
                    position[t] = queue[queueHead].lowerBound
                    end[t] = queue[queueHead].upperBound
                    queueHead += 1
                    continue
                }
                releaseSlot(t)
                status[t] = .done
                finished += 1
                lastFinish = max(lastFinish, now)
                return
            }
            switch flat[position[t]] {
            case .cpu(let raw):
                let ns = nanos(Double(raw) * scale)
                guard ns > 0 else {
                    position[t] += 1
                    continue
                }
                guard takeSlot(t) else { return }
                status[t] = .computing
                if gil {
                    remaining[t] = Double(ns)
                    computing.append(t)
                } else {
                    shared.push(time: virtual + Double(ns), task: t)
                }
                return
            case .wait(let ns):
                guard ns > 0 else {
                    position[t] += 1
                    continue
                }
                guard takeSlot(t) else { return }
                sleep(t, until: Int64(now.rounded()) + ns)
                return
            case .await(let ns):
                releaseSlot(t)
                guard ns > 0 else {
                    position[t] += 1
                    continue
                }
                sleep(t, until: Int64(now.rounded()) + ns)
                return
            case .notBefore(let time):
                if Double(time) <= now + 0.5 {
                    position[t] += 1
                    continue
                }
                releaseSlot(t)
                sleep(t, until: time)
                return
            case .acquire(let lock):
                let owner = lockOwner[lock]
                if owner >= 0, owner != t {
                    // An async mutex suspends; a thread's own mutex blocks its own thread: either
                    // way no executor slot is held while queued for the lock.
                    releaseSlot(t)
                    lockQueue[lock].append(t)
                    status[t] = .blockedOnLock
                    return
                }
                lockOwner[lock] = t
                position[t] += 1
            case .release(let lock):
                position[t] += 1
                if lockOwner[lock] == t {
                    let head = lockQueueHead[lock]
                    if head < lockQueue[lock].count {
                        let next = lockQueue[lock][head]
                        if head + 1 == lockQueue[lock].count {
                            lockQueue[lock].removeAll(keepingCapacity: true)
                            lockQueueHead[lock] = 0
                        } else {
                            lockQueueHead[lock] = head + 1
                        }
                        lockOwner[lock] = next
                        position[next] += 1
                        status[next] = .ready
                        makeReady(next)
                    } else {
                        lockOwner[lock] = -1
                    }
                }
            }
        }
    }

    mutating func sleep(_ t: Int, until time: Int64) {
        status[t] = .waiting
        wakeAt[t] = time
        waits.push(time: time, task: t)
    }

    /// Takes a slot of `t`'s executor; false (and queued) when none is free.
    mutating func takeSlot(_ t: Int) -> Bool {
        guard let e = executor[t], !holdsSlot[t] else { return true }
        if freeSlots[e] > 0 {
            freeSlots[e] -= 1
            holdsSlot[t] = true
            return true
        }
        slotQueue[e].append(t)
        status[t] = .queuedForSlot
        return false
    }

    mutating func releaseSlot(_ t: Int) {
        guard let e = executor[t], holdsSlot[t] else { return }
        holdsSlot[t] = false
        if slotQueueHead[e] < slotQueue[e].count {
            let next = slotQueue[e][slotQueueHead[e]]
            slotQueueHead[e] += 1
            holdsSlot[next] = true
            status[next] = .ready
            makeReady(next)
        } else {
            freeSlots[e] += 1
        }
    }

    /// Each computing task's share of a core: max-min fair over the machine's cores and, with a
    /// GIL, one core per process.
    func cpuRates(into rates: inout [Double]) {
        let n = computing.count
        rates.removeAll(keepingCapacity: true)
        guard n > 0 else { return }
        // A process's tasks share at most one core between them (its GIL); progressive filling
        // raises every unfrozen rate together until a task reaches one core, the machine is
        // full, or a process's interpreter lock is.
        rates.append(contentsOf: repeatElement(0, count: n))
        var frozen = [Bool](repeating: false, count: n)
        var groups: [Int] = []  // distinct processes, small
        var group = [Int](repeating: 0, count: n)
        for (k, t) in computing.enumerated() {
            if let g = groups.firstIndex(of: process[t]) {
                group[k] = g
            } else {
                group[k] = groups.count
                groups.append(process[t])
            }
        }
        var groupLeft = [Double](repeating: 1, count: groups.count)
        var machineLeft = cores
        var active = n
        while active > 0 {
            var count = [Int](repeating: 0, count: groups.count)
            for k in 0..<n where !frozen[k] { count[group[k]] += 1 }
            var step = min(1.0, machineLeft / Double(active))
            for g in groups.indices where count[g] > 0 { step = min(step, groupLeft[g] / Double(count[g])) }
            step = max(0, step)
            for k in 0..<n where !frozen[k] {
                rates[k] += step
                groupLeft[group[k]] -= step
            }
            machineLeft -= step * Double(active)
            var froze = false
            for k in 0..<n where !frozen[k] {
                if rates[k] >= 1 - 1e-9 || machineLeft <= 1e-9 || groupLeft[group[k]] <= 1e-9 {
                    frozen[k] = true
                    active -= 1
                    froze = true
                }
            }
            if !froze { break }
        }
    }
}

/// A min-heap of (time, task) with room for a fixed number of entries (each task is in a heap
/// at most once: the computing tasks, the sleeping ones), behind a pointer like ``Column``;
/// freed by `free()`. Entries are (time, task) pairs side by side, and a sift moves a hole
/// rather than swapping at every level: a replay pushes and pops once per step. With room for
/// a few tasks it is a sorted array instead, whose equal times come out in the order they went
/// in (a heap's come out in an order of its own).
private struct MinHeap<Time: Comparable> {
    private struct Entry {
        var time: Time
        var task: Int
    }
    private let entries: UnsafeMutablePointer<Entry>
    private let capacity: Int
    private(set) var count = 0
    /// A few tasks (most replays): the entries sorted, latest first, rather than a heap — the
    /// next is the last, and a push moves a few entries up, where a heap's sift takes a
    /// branch it cannot predict at every level.
    private let sorted: Bool
    private static var sortedCapacity: Int { 64 }

    init(capacity: Int, zero: Time) {
        self.capacity = capacity
        sorted = capacity <= Self.sortedCapacity
        entries = .allocate(capacity: max(1, capacity))
        entries.initialize(repeating: Entry(time: zero, task: 0), count: max(1, capacity))
    }

    func free() { entries.deallocate() }

    var top: (time: Time, task: Int)? {
        guard count > 0 else { return nil }
        let e = entries[sorted ? count - 1 : 0]
        return (e.time, e.task)
    }

    mutating func push(time: Time, task: Int) {
        precondition(count < capacity, "a task in a heap twice")
        if sorted {
            // Below every entry that is not later (they come out first, ties in push order).
            var i = count
            while i > 0, !(entries[i - 1].time > time) {
                entries[i] = entries[i - 1]
                i -= 1
            }
            entries[i] = Entry(time: time, task: task)
            count += 1
            return
        }
        var i = count
        count += 1
        while i > 0 {
            let p = (i - 1) / 2
            guard time < entries[p].time else { break }
            entries[i] = entries[p]
            i = p
        }
        entries[i] = Entry(time: time, task: task)
    }

    mutating func pop() {
        guard count > 0 else { return }
        count -= 1
        guard count > 0, !sorted else { return }
        let last = entries[count]
        var i = 0
        while true {
            let l = 2 * i + 1
            guard l < count else { break }
            let r = l + 1
            let m = r < count && entries[r].time < entries[l].time ? r : l
            guard entries[m].time < last.time else { break }
            entries[i] = entries[m]
            i = m
        }
        entries[i] = last
    }
}

/// A fixed number of plain values behind a pointer, written without a copy-on-write check
/// (`T` is trivial: freed without deinitializing).
private struct Column<T> {
    let base: UnsafeMutablePointer<T>

    init(repeating value: T, count: Int) {
        base = .allocate(capacity: max(1, count))
        base.initialize(repeating: value, count: max(1, count))
    }

    init(_ values: [T]) {
        base = .allocate(capacity: max(1, values.count))
        values.withUnsafeBufferPointer { if let b = $0.baseAddress { base.initialize(from: b, count: $0.count) } }
    }

    subscript(i: Int) -> T {
        get { base[i] }
        nonmutating set { base[i] = newValue }
    }

    func free() { base.deallocate() }
}
