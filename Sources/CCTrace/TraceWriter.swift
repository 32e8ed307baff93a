import CCTraceFormat
import CCTraceNative
import CCTraceUnwind
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The background thread that moves events from the thread buffers to the trace file.
///
/// Every flush interval it drains each thread's buffer up to what that thread has committed,
/// formats the events as JSON lines and writes them; between drains it samples per-thread CPU
/// use. A drain formats without allocating, so the same code runs one last time from a
/// fatal-signal handler.
final class TraceWriter: @unchecked Sendable {
    let configuration: TraceConfiguration
    private let out: TraceLineWriter
    @exclusivity(unchecked) private var clock: ClockCalibration
    private let pid: UInt32
    private let cpu: CPUSampler?

    /// Held while draining; a spin lock so a signal handler can try it without deadlocking.
    private var drainLock: Int32 = 0
    private var finished = false
    private let stopRequested = Atomic<Bool>(false)
    private var thread: pthread_t?
    private var writerTID: UInt32 = 0
    private let tasks = TaskBindings()
    private let symbolizer = StackSymbolizer()
    private var stacks: StackSampler?
    /// False during the last-resort drain in a signal handler, which must not open files.
    private var symbolizing = true
    /// Events written so far. Hot fields of this class opt out of the dynamic exclusivity
    /// check: only the thread holding `drainLock` touches them.
    @exclusivity(unchecked) private(set) var eventsWritten: UInt64 = 0
    private var reportedDrops: UInt64 = 0
    /// Events lost so far (buffers full, or the trace's size limit), as the trace reports them.
    var eventsDropped: UInt64 { reportedDrops }
    /// Past ``TraceConfiguration/maxBytes``: events are counted as dropped, not written.
    private var full = false
    private var droppedWhenFull: UInt64 = 0
    private let limit: Int
    /// The flight recorder, in ring mode; and the last automatic trigger, the dumps written.
    private let ring: FlightRecorder?
    private var lastAutomaticDump: Int64 = Int64.min / 2
    private var pendingAutomaticDump = false
    private let lockWaitName: UInt32 = NameTable.shared.intern(TraceVocabulary.Event.lockWait.string)
    private let dumpLock = Mutex<[String]>([])

    init(configuration: TraceConfiguration, fileDescriptor: Int32, clock: ClockCalibration) {
        self.configuration = configuration
        // `….gz`: written as gzip on the fly, with a sync point at every flush.
        let ring = configuration.ring.map { FlightRecorder(capacity: $0.bytes) }
        self.ring = ring
        self.out = TraceLineWriter(
            fileDescriptor: fileDescriptor, gzip: ring == nil && configuration.outputPath.hasSuffix(".gz"))
        if let ring { out.redirect = { ring.append($0, $1) } }
        self.clock = clock
        self.pid = UInt32(getpid())
        self.cpu = configuration.cpuSampleInterval.map { _ in CPUSampler() }
        // Room kept for the closing events (the drop count, the session's end) past the limit.
        self.limit =
            configuration.ring != nil
            ? Int.max : configuration.maxBytes.map { max($0 - (64 << 10), 64 << 10) } ?? Int.max
    }

    /// Whether the file reached its limit; once it has, sampling stops (the program may be
    /// stuck in a loop that keeps producing the same samples).
    private func checkFull() -> Bool {
        if !full && out.bytesAppended >= limit {
            full = true
            stacks?.stop()
        }
        return full
    }

    // MARK: - Lifecycle

    func start() {
        // A flight recorder's dumps write their own `[`.
        if ring == nil { out.beginArray() }
        writeSessionMetadata()
        eventsWritten += UInt64(cpu?.sample(into: out, pid: pid, final: false) ?? 0)  // baseline
        out.flush()
        thread = startRecorderThread(detached: false) { self.run() }
    }

    /// Stops the thread, drains everything, writes the closing events and closes the file.
    func stopAndFinish(mergingChildren childFiles: [String] = []) {
        stopRequested.store(true, ordering: .releasing)
        if let thread { pthread_join(thread, nil) }
        thread = nil
        lockDrain()
        defer { cctrace_spin_unlock(&drainLock) }
        guard !finished else { return }
        stacks?.stop()
        eventsWritten += UInt64(cpu?.sample(into: out, pid: pid, final: true) ?? 0)
        drainLocked()
        for file in childFiles { merge(childFile: file) }
        finishLocked(reason: "stop", signal: 0)
    }

    /// Drains and writes to the file now (from any thread).
    func drainNow() {
        lockDrain()
        defer { cctrace_spin_unlock(&drainLock) }
        guard !finished else { return }
        drainLocked()
        out.flush()
    }

    /// The last resort on a fatal signal. Waits up to ~200 ms for a drain in progress on
    /// another thread, then drains and closes the array.
    func finishFromSignal(_ signo: Int32) {
        var acquired = cctrace_spin_trylock(&drainLock)
        if !acquired && cctrace_gettid() != writerTID {
            var spins = 0
            while !acquired && spins < 2000 {
                var ts = timespec(tv_sec: 0, tv_nsec: 100_000)
                nanosleep(&ts, nil)
                acquired = cctrace_spin_trylock(&drainLock)
                spins += 1
            }
        }
        guard acquired else { return }
        defer { cctrace_spin_unlock(&drainLock) }
        guard !finished else { return }
        symbolizing = false
        drainLocked()
        if ring != nil && configuration.ring?.onCrash == true { _ = dumpLocked(reason: "signal", signal: signo) }
        finishLocked(reason: "signal", signal: signo)
    }

    // MARK: - Flight recorder

    /// Writes the ring's window as a trace of its own. Caller holds `drainLock`.
    private func dumpLocked(reason: StaticString, signal: Int32 = 0) -> String? {
        guard let ring else { return nil }
        out.flush()
        let path = ring.dump(outputPath: configuration.outputPath) { w in
            self.writeSessionEnd(into: w, reason: reason, signal: signal)
            w.endArray()
        }
        if let path { dumpLock.withLock { $0.append(path) } }
        return path
    }

    /// The dumps written so far.
    var dumpPaths: [String] { dumpLock.withLock { $0 } }

    /// An automatic trigger (a stall, a long lock wait): a dump unless one was made within the
    /// cooldown.
    private func automaticTrigger() {
        guard ring != nil else { return }
        pendingAutomaticDump = true
    }

    private func run() {
        writerTID = cctrace_gettid()
        cctrace_set_thread_name("cctrace-writer")
        lockDrain()
        stacks = StackSampler(configuration: configuration, writerTID: writerTID)
        cctrace_spin_unlock(&drainLock)
        let flushNs = max(configuration.flushInterval.wholeNanoseconds, 1_000_000)
        let sampleNs = configuration.cpuSampleInterval.map { max($0.wholeNanoseconds, 1_000_000) }
        // Wake at least every 10 ms so stop() never waits long for this thread.
        let tickNs = min(sampleNs ?? flushNs, flushNs, 10_000_000)
        var lastDrain = Int64(cctrace_monotonic_ns())
        var lastSample = lastDrain
        while !stopRequested.load(ordering: .acquiring) {
            var ts = timespec(tv_sec: 0, tv_nsec: Int(tickNs))
            nanosleep(&ts, nil)
            let now = Int64(cctrace_monotonic_ns())
            stacks?.tick(
                now: now, clock: clock, lock: { self.lockDrain() }, unlock: { cctrace_spin_unlock(&self.drainLock) })
            let sample = sampleNs.map { now - lastSample >= $0 - tickNs / 2 } ?? false
            var drain = now - lastDrain >= flushNs - tickNs / 2
            let asked = ring != nil && cctrace_take_dump_request() != 0
            if asked || pendingAutomaticDump { drain = true }
            guard sample || drain else { continue }
            lockDrain()
            if !finished {
                if sample && !checkFull() {
                    eventsWritten += UInt64(cpu?.sample(into: out, pid: pid, final: false) ?? 0)
                    lastSample = now
                }
                if drain {
                    drainLocked()
                    out.flush()
                    lastDrain = now
                }
                if asked {
                    _ = dumpLocked(reason: "dump")
                } else if pendingAutomaticDump,
                    let cooldown = configuration.ring?.cooldown.wholeNanoseconds,
                    now - lastAutomaticDump >= cooldown
                {
                    _ = dumpLocked(reason: "trigger")
                    lastAutomaticDump = now
                }
                pendingAutomaticDump = false
            }
            cctrace_spin_unlock(&drainLock)
        }
    }

    private func lockDrain() {
        while !cctrace_spin_trylock(&drainLock) {
            var ts = timespec(tv_sec: 0, tv_nsec: 50_000)
            nanosleep(&ts, nil)
        }
    }

    // MARK: - Draining

    /// Writes every event committed so far. Caller holds `drainLock`.
    private func drainLocked() {
        clock.recalibrate()
        let recorder = Recorder.shared
        let count = recorder.registryCount.load(ordering: .acquiring)
        // First pass: fix each buffer's limit and learn task bindings, so a job that ran on one
        // thread finds the task that another thread bound earlier in the same drain.
        for i in 0..<count {
            guard let buffer = recorder.registry[i]?.takeUnretainedValue(), !buffer.retired else { continue }
            scan(buffer)
        }
        if let stacks, symbolizing {
            if checkFull() {
                droppedWhenFull &+= stacks.discard()
            } else {
                let stalls = stacks.stallsWritten
                eventsWritten += stacks.drain(into: out, pid: pid, symbolizer: symbolizer)
                if stacks.stallsWritten != stalls && configuration.ring?.onStall == true { automaticTrigger() }
            }
        }
        var drops = recorder.unbufferedDrops.load(ordering: .relaxed)
        for i in 0..<count {
            guard let buffer = recorder.registry[i]?.takeUnretainedValue(), !buffer.retired else { continue }
            let exited = buffer.exited.load(ordering: .acquiring)
            emit(buffer)
            let dropped = cctrace_load_relaxed_u64(&buffer.state.pointee.dropped)
            drops &+= dropped
            if exited && buffer.readChunk == buffer.limitChunk {
                // Retire only when this is the thread's last chunk and all of it is written; the
                // thread may have moved on to a newer chunk after `scan` fixed the limit.
                var final = false
                let committed = Int(cctrace_committed(buffer.state, buffer.readChunk, &final))
                if !final && buffer.readIndex == committed { retire(buffer) }
            }
        }
        drops &+= droppedWhenFull
        if drops != reportedDrops {
            reportedDrops = drops
            out.reserve(256)
            out.appendEventHeader(
                phase: "C", category: TraceVocabulary.Category.session.text,
                name: .text(TraceVocabulary.Event.dropped.text), pid: pid, tid: pid,
                nanoseconds: Int64(cctrace_monotonic_ns()))
            out.appendFirstArgument(TraceVocabulary.Arg.events)
            out.appendUInt(drops)
            out.appendASCII("}},\n")
            eventsWritten += 1
        }
    }

    /// Walks from the buffer's read position to what its thread has committed, binding tasks.
    private func scan(_ buffer: ThreadBuffer) {
        var chunk = buffer.readChunk
        var index = buffer.readIndex
        while true {
            var final = false
            let committed = Int(cctrace_committed(buffer.state, chunk, &final))
            let events = chunk.pointee.events!
            while index < committed {
                let e = events[index]
                if e.kind == EventKind.taskBind { tasks.bind(pointer: e.ts, taskID: e.end, nameID: UInt32(e.name)) }
                index += 1
            }
            guard final, let next = cctrace_load_next(chunk) else { break }
            chunk = next
            index = 0
        }
        buffer.limitChunk = chunk
        buffer.limitIndex = index
    }

    /// Writes the buffer's events up to the limit `scan` fixed, recycling finished chunks.
    private func emit(_ buffer: ThreadBuffer) {
        while true {
            let chunk = buffer.readChunk
            let isLimit = chunk == buffer.limitChunk
            let end = isLimit ? buffer.limitIndex : Int(cctrace_load_acquire_u64(&chunk.pointee.committed))
            let events = chunk.pointee.events!
            var index = buffer.readIndex
            if checkFull() {
                droppedWhenFull &+= UInt64(max(0, end - index))
                index = end
            }
            while index < end {
                write(events[index], chunk: chunk, buffer: buffer)
                index += 1
                if index & 255 == 0 && checkFull() {
                    droppedWhenFull &+= UInt64(end - index)
                    index = end
                }
            }
            buffer.readIndex = index
            if isLimit { return }
            buffer.readChunk = cctrace_load_next(chunk)!
            buffer.readIndex = 0
            ChunkPool.shared.release(chunk)
        }
    }

    private func retire(_ buffer: ThreadBuffer) {
        buffer.retired = true
        ChunkPool.shared.release(buffer.readChunk)
        buffer.state.deallocate()
    }

    // MARK: - Formatting

    private func write(_ e: cctrace_event, chunk: UnsafeMutablePointer<cctrace_chunk>, buffer: ThreadBuffer) {
        let category = Int(e.flags >> 4)
        out.reserve(1024)
        switch e.kind {
        case EventKind.complete, EventKind.jobRun:
            let begin = time(e.ts, e)
            let end = max(time(e.end, e), begin)
            var nameID = UInt32(truncatingIfNeeded: e.name)
            var taskID: UInt64 = 0
            var interned = e.flags & UInt8(CCTRACE_FLAG_INTERNED) != 0
            if e.kind == EventKind.jobRun {
                interned = true
                if let task = tasks.lookup(pointer: e.name) {
                    nameID = task.nameID
                    taskID = task.taskID
                } else {
                    nameID = TaskBindings.unknownJobName
                }
            }
            let cpu = buffer.pendingCPU.flatMap { $0.0 == e.ts ? ($0.1, $0.2) : nil }
            buffer.pendingCPU = nil
            if ring != nil, category == Int(EventCategory.lock), interned, nameID == lockWaitName,
                let threshold = configuration.ring?.lockWait?.wholeNanoseconds, end - begin >= threshold
            {
                automaticTrigger()
            }
            if buffer.admitNested(begin: begin, end: end) {
                head("X", category: category, e: e, interned: interned, nameID: nameID, tid: buffer.tid, ts: begin)
                out.appendASCII(",\"dur\":")
                out.appendMicroseconds(nanoseconds: end - begin)
                if let (cpuBegin, cpuEnd) = cpu {
                    out.appendASCII(",\"tts\":")
                    out.appendMicroseconds(nanoseconds: Int64(cpuBegin))
                    out.appendASCII(",\"tdur\":")
                    out.appendMicroseconds(nanoseconds: Int64(cpuEnd &- cpuBegin))
                }
                writeArgs(e, chunk: chunk, taskID: taskID, demoted: false)
                out.appendASCII("},\n")
                eventsWritten += 1
            } else {
                // Overlaps an earlier span on this thread without nesting in it: as an `X` it
                // would corrupt the thread's call tree, so it becomes an async slice.
                let id = Recorder.shared.nextAsyncID.add(1, ordering: .relaxed).oldValue
                head("b", category: category, e: e, interned: interned, nameID: nameID, tid: buffer.tid, ts: begin)
                appendID(id)
                writeArgs(e, chunk: chunk, taskID: taskID, demoted: true)
                out.appendASCII("},\n")
                head("e", category: category, e: e, interned: interned, nameID: nameID, tid: buffer.tid, ts: end)
                appendID(id)
                out.appendASCII("},\n")
                eventsWritten += 2
            }
        case EventKind.instant, EventKind.processInstant:
            head("i", category: category, e: e, interned: nil, nameID: 0, tid: buffer.tid, ts: time(e.ts, e))
            out.appendASCII(e.kind == EventKind.instant ? ",\"s\":\"t\"" : ",\"s\":\"p\"")
            writeArgs(e, chunk: chunk, taskID: 0, demoted: false)
            out.appendASCII("},\n")
            eventsWritten += 1
        case EventKind.counter:
            head("C", category: category, e: e, interned: nil, nameID: 0, tid: buffer.tid, ts: time(e.ts, e))
            out.appendASCII(",\"args\":{\"value\":")
            out.appendNumber(Double(bitPattern: e.end))
            out.appendASCII("}},\n")
            eventsWritten += 1
        case EventKind.counterAt:
            head("C", category: category, e: e, interned: nil, nameID: 0, tid: buffer.tid, ts: Int64(bitPattern: e.ts))
            out.appendASCII(",\"args\":{")
            let (key, keyLength) = NameTable.shared.bytes(of: UInt32(e.name_len))
            out.appendString(key, keyLength)
            out.append(0x3A)
            out.appendNumber(Double(bitPattern: e.end))
            out.appendASCII("}},\n")
            eventsWritten += 1
        case EventKind.asyncBegin, EventKind.asyncEnd:
            let ph: StaticString = e.kind == EventKind.asyncBegin ? "b" : "e"
            head(ph, category: category, e: e, interned: nil, nameID: 0, tid: buffer.tid, ts: time(e.ts, e))
            appendID(e.end)
            writeArgs(e, chunk: chunk, taskID: 0, demoted: false)
            out.appendASCII("},\n")
            eventsWritten += 1
        case EventKind.threadName:
            out.appendEventHeader(
                phase: "M", category: nil, name: .text(TraceVocabulary.Chrome.threadName.text), pid: pid,
                tid: buffer.tid, nanoseconds: nil)
            out.appendFirstArgument(TraceVocabulary.Arg.name)
            let (p, n) = NameTable.shared.bytes(of: UInt32(truncatingIfNeeded: e.name))
            out.appendString(p, n)
            out.appendASCII("}},\n")
            eventsWritten += 1
        case EventKind.flowStart, EventKind.flowEnd:
            let isEnd = e.kind == EventKind.flowEnd
            head(
                isEnd ? "f" : "s", category: category, e: e, interned: nil, nameID: 0, tid: buffer.tid,
                ts: time(e.ts, e))
            appendID(e.end)
            if isEnd { out.appendASCII(",\"bp\":\"e\"") }
            out.appendASCII("},\n")
            eventsWritten += 1
        case EventKind.threadCPU:
            buffer.pendingCPU = (e.name, e.ts, e.end)
        case EventKind.swiftJobReady:
            buffer.pendingReady = (e.ts, e.name, e.end)
        case EventKind.swiftJobCallers:
            if e.name_len == 0 {
                buffer.pendingCallers.0 = e.ts
                buffer.pendingCallers.1 = e.end
                buffer.pendingCallers.2 = e.name
            } else {
                buffer.pendingCallers.3 = e.ts
                buffer.pendingCallers.4 = e.end
                buffer.pendingCallers.5 = e.name
            }
        case EventKind.swiftJob:
            writeSwiftJob(e, buffer: buffer)
        case EventKind.swiftSleep:
            // On the task's own async track (ids above 2^40 are task ids; spans count from 1).
            let id = (1 << 40) | UInt64(e.aux)
            let name = TraceVocabulary.Event.taskSleep.text
            for isBegin in [true, false] {
                out.appendEventHeader(
                    phase: isBegin ? "b" : "e", category: TraceVocabulary.Category.task.text, name: .text(name),
                    pid: pid, tid: buffer.tid, nanoseconds: time(isBegin ? e.ts : max(e.end, e.ts), e))
                appendID(id)
                if isBegin {
                    out.appendFirstArgument(TraceVocabulary.Arg.taskID)
                    out.appendUInt(UInt64(e.aux))
                    out.appendASCII("}")
                }
                out.appendASCII("},\n")
            }
            eventsWritten += 2
        default:
            break  // task bindings were consumed by `scan`
        }
    }

    /// One job of Swift's global executor, as a slice on the thread that ran it: named after the
    /// function the task resumed in (or `actor <Type>` for a run of an actor's queue), with the
    /// task id or actor instance and how long the job waited from ready to running.
    private func writeSwiftJob(_ e: cctrace_event, buffer: ThreadBuffer) {
        let ready = buffer.pendingReady
        let callers = buffer.pendingCallers
        buffer.pendingReady = nil
        buffer.pendingCallers = (0, 0, 0, 0, 0, 0)
        let kind = Int(e.name_len & 0xff)
        let begin = time(e.ts, e)
        let end = max(time(e.end, e), begin)
        var (nameID, after) = swiftJobName(kind: kind, address: e.name, callers: callers, entry: ready?.2 ?? 0)
        // A task traced by name (CCTrace.task, addTracedTask) bound its address: its runs take
        // its name and traced id, so they join its life on its track.
        var taskID = UInt64(e.aux)
        if kind == 0, let pointer = ready?.1, let bound = tasks.lookup(pointer: pointer) {
            nameID = bound.nameID
            taskID = bound.taskID
        }
        guard buffer.admitNested(begin: begin, end: end) else { return }
        head("X", category: Int(EventCategory.task), e: e, interned: true, nameID: nameID, tid: buffer.tid, ts: begin)
        out.appendASCII(",\"dur\":")
        out.appendMicroseconds(nanoseconds: end - begin)
        if kind == 0 {
            out.appendFirstArgument(TraceVocabulary.Arg.taskID)
            out.appendUInt(taskID)
        } else {
            out.appendFirstArgument(TraceVocabulary.Arg.actor)
            let type = swiftJobTypeName(e.name)
            let instance = ready?.1 ?? 0
            out.appendString("\(type)@0x\(String(instance, radix: 16))")
            if let method = ready?.2, method != 0, symbolizing, let name = actorMethod(method) {
                out.appendArgumentKey(TraceVocabulary.Arg.awaitedFrom)
                out.appendString(name)
            }
        }
        if let (readyTick, _, _) = ready, readyTick != 0 {
            out.appendArgumentKey(TraceVocabulary.Arg.queuedUs)
            out.appendMicroseconds(nanoseconds: max(0, begin - time(readyTick, e)))
        }
        if let after {
            out.appendArgumentKey(TraceVocabulary.Arg.after)
            out.append(0x22)
            out.appendASCII(after)
            out.append(0x22)
        }
        out.appendASCII("}},\n")
        eventsWritten += 1
    }

    private struct SwiftJobKey: Hashable {
        var kind: Int
        var address: UInt64
        var callers: [UInt64]
    }
    private var swiftJobNames: [SwiftJobKey: (UInt32, StaticString?)] = [:]
    private var swiftTypeNames: [UInt64: String] = [:]

    private func swiftJobName(
        kind: Int, address: UInt64, callers c: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64), entry: UInt64
    ) -> (name: UInt32, after: StaticString?) {
        let key = SwiftJobKey(kind: kind, address: address, callers: [c.0, c.1, c.2, c.3, c.4, c.5, entry])
        if let known = swiftJobNames[key] { return known }
        let name: String
        var after: StaticString? = nil
        if kind >= 192 && kind <= 194 {
            name = TraceVocabulary.Event.actorPrefix.string + swiftJobTypeName(address)
        } else if !symbolizing {
            name = "job"
        } else {
            // A fragment of the runtime or the standard library (the adapter a task resumes in
            // after awaiting a child, Task.sleep's own continuation) says less than the app's
            // function it returns to.
            let resumed = symbolizer.function(at: UInt(address))
            let chain = key.callers.dropLast().filter { $0 != 0 }.map { symbolizer.function(at: UInt($0)) }
            after = Self.suspension(resumed: resumed, chain: chain)
            if !Self.isRuntimeFragment(resumed) {
                name = Self.resumedFunction(resumed)
            } else if resumed.contains("future_adapter"), entry != 0 {
                // A task's first run: its body, through the adapter's entry point.
                name = Self.resumedFunction(symbolizer.function(at: UInt(entry)))
            } else if let app = chain.first(where: { !Self.isRuntimeFragment($0) }) {
                name = Self.resumedFunction(app)
            } else if resumed.contains("completeTask") {
                name = TraceVocabulary.Event.taskCompletion.string
            } else {
                name = Self.resumedFunction(resumed)
            }
        }
        let id = NameTable.shared.intern(name)
        swiftJobNames[key] = (id, after)
        return (id, after)
    }

    /// What a task's job resumes after, where the fragment it resumes in tells: `start` (the
    /// runtime's adapter that calls a task's body), `sleep` (inside `Task.sleep`), `child`
    /// (the adapters a parent resumes in after awaiting a child task or a group).
    static func suspension(resumed: String, chain: [String]) -> StaticString? {
        if resumed.contains("future_adapter") { return "start" }
        if resumed.contains("task_group_wait_resume_adapter") || resumed.contains("task_wait_throw_resume_adapter")
            || resumed.contains("task_future_wait_resume_adapter")
        {
            return "child"
        }
        // Task.sleep's frames are the standard library's, down to the app's call.
        for f in [resumed] + chain {
            if !isRuntimeFragment(f) { break }
            if f.contains("_sleep") || f.contains(".sleep(") { return "sleep" }
        }
        return nil
    }

    private var actorMethods: [UInt64: String?] = [:]

    /// The function a task queued on an actor awaited it from (where it resumes) — kept only
    /// when that is the app's function (the job was read from the runtime's internals, best
    /// effort).
    private func actorMethod(_ address: UInt64) -> String? {
        if let known = actorMethods[address] { return known }
        let symbol = symbolizer.function(at: UInt(address))
        let name: String? =
            symbol.hasPrefix("0x") || Self.isRuntimeFragment(symbol) ? nil : Self.resumedFunction(symbol)
        actorMethods[address] = name
        return name
    }

    /// The type whose metadata is at `address` (an actor's class). The address is first checked
    /// to lie in a loaded image and to hold a Swift class's metadata (its kind word is 0 on
    /// Linux), so a wrong one never makes the writer read where it cannot.
    private func swiftJobTypeName(_ address: UInt64) -> String {
        if let known = swiftTypeNames[address] { return known }
        var name = "?"
        if let raw = UnsafeRawPointer(bitPattern: UInt(address)), address & 7 == 0, cctrace_image_path(raw) != nil,
            raw.load(as: UInt.self) == 0
        {
            name = _typeName(unsafeBitCast(raw, to: Any.Type.self), qualified: false)
        }
        swiftTypeNames[address] = name
        return name
    }

    /// Whether a resumed function belongs to the concurrency runtime or the standard library.
    static func isRuntimeFragment(_ name: String) -> Bool {
        name.hasPrefix("_Z") || name.contains("(libswift") || SwiftSymbols.isStandardLibrary(name)
    }

    /// `(1) await resume partial function for App.load()` → `App.load()`: the async function a
    /// task resumed in, without the compiler's name for the fragment.
    static func resumedFunction(_ symbol: String) -> String {
        var s = SwiftSymbols.asyncFragmentFunction(Substring(symbol))
        while s.hasPrefix("partial apply forwarder for ") { s = s.dropFirst("partial apply forwarder for ".count) }
        // A task body the compiler wrapped to change its calling convention: the thunk is all
        // the symbol table knows (typically an `async let` child).
        if s.hasPrefix("reabstraction thunk helper") { return "child task (reabstraction thunk)" }
        return String(s)
    }

    /// A time field of `e` in nanoseconds: ticks converted, or already monotonic nanoseconds.
    @inline(__always)
    private func time(_ value: UInt64, _ e: cctrace_event) -> Int64 {
        e.flags & UInt8(CCTRACE_FLAG_MONOTONIC_NS) != 0 ? Int64(bitPattern: value) : clock.nanoseconds(value)
    }

    /// `{"ph":…,"cat":…,"name":…,"pid":…,"tid":…,"ts":…` — `interned == nil` means "as flagged".
    private func head(
        _ ph: StaticString, category: Int, e: cctrace_event, interned: Bool?, nameID: UInt32, tid: UInt32,
        ts: Int64
    ) {
        let name: TraceLineWriter.EventName
        let isInterned = interned ?? (e.flags & UInt8(CCTRACE_FLAG_INTERNED) != 0)
        if isInterned {
            // Interned names live as long as the process; so do `StaticString`s.
            let (p, n) = NameTable.shared.bytes(of: interned == nil ? UInt32(truncatingIfNeeded: e.name) : nameID)
            name = .immortal(p, n)
        } else if let p = UnsafePointer<UInt8>(bitPattern: UInt(e.name)) {
            name = .immortal(p, Int(e.name_len))
        } else {
            name = .text("")
        }
        // The app's own spans, instants and counters carry no `cat` (it is optional in Chrome
        // JSON, and they are the events a hot loop writes millions of): 13 bytes less per event,
        // ~12 % of a span's line. Everything else keeps its `cctrace.*` category.
        out.appendEventHeader(
            phase: ph,
            category: category == Int(EventCategory.span)
                ? nil : EventCategory.names[min(category, EventCategory.names.count - 1)],
            name: name, pid: pid, tid: tid, nanoseconds: ts)
    }

    private func appendID(_ id: UInt64) {
        out.appendASCII(",\"id\":")
        out.appendUInt(id)
    }

    /// `"frames":[…]`: the symbolized form of a stored `stack` member, for people and Perfetto.
    private func writeFrames(_ args: UnsafeBufferPointer<UInt8>) {
        let addresses = StackSymbolizer.addresses(inArguments: args)
        guard !addresses.isEmpty else { return }
        var frames = addresses.map { symbolizer.frame(returnAddress: $0) }
        // The capture itself (the lock's slow path and the standard library's helpers around
        // it) is not where the app waited: start at the first frame outside them.
        let firstOwn = frames.firstIndex { !StackSymbolizer.isRecorderFrame($0) } ?? 0
        frames.removeFirst(firstOwn)
        out.appendArgumentKey(TraceVocabulary.Arg.frames)
        out.appendStringArray(frames)
        // For file:line at report time (llvm-symbolizer on the images, when present).
        out.appendArgumentKey(TraceVocabulary.Arg.locations)
        out.appendStringArray(addresses.dropFirst(firstOwn).map { symbolizer.location(returnAddress: $0) })
    }

    private func writeArgs(
        _ e: cctrace_event, chunk: UnsafeMutablePointer<cctrace_chunk>, taskID: UInt64, demoted: Bool
    ) {
        let hasStored = e.aux != 0 && e.kind != EventKind.jobRun
        guard hasStored || taskID != 0 || demoted else { return }
        out.appendASCII(",\"args\":{")
        var first = true
        if taskID != 0 {
            out.appendASCII("\"")
            out.appendASCII(TraceVocabulary.Arg.taskID.text)
            out.appendASCII("\":")
            out.appendUInt(taskID)
            first = false
        }
        if demoted {
            if !first { out.append(0x2C) }
            out.appendASCII("\"")
            out.appendASCII(TraceVocabulary.Arg.overlap.text)
            out.appendASCII("\":true")
            first = false
        }
        if hasStored {
            let base = chunk.pointee.arena! + Int(e.aux - 1)
            var length: UInt32 = 0
            withUnsafeMutableBytes(of: &length) { $0.copyMemory(from: UnsafeRawBufferPointer(start: base, count: 4)) }
            // Stored args are an object's members without braces.
            if length > 0 {
                if !first { out.append(0x2C) }
                out.reserve(Int(length) + 16)
                out.appendRaw(base + 4, Int(length))
                if symbolizing && e.flags >> 4 == EventCategory.lock {
                    writeFrames(UnsafeBufferPointer(start: base + 4, count: Int(length)))
                }
            }
        }
        out.append(0x7D)
    }

    // MARK: - Children

    /// Copies a child's trace into this one, line by line: every complete event line (a child
    /// that crashed may end in half a line, which is skipped), then deletes the child's file.
    /// The child's own `cctrace.session_end` stays in: it says how the child's recording ended.
    private func merge(childFile path: String) {
        guard let text = readWholeFile(path) else { return }
        var copied = 0
        for line in text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            var bytes = line[...]
            while let last = bytes.last, last == 0x20 || last == 0x0D { bytes.removeLast() }
            guard bytes.first == UInt8(ascii: "{") else { continue }
            if bytes.last == UInt8(ascii: ",") { bytes.removeLast() }
            guard bytes.last == UInt8(ascii: "}") else { continue }
            out.reserve(bytes.count + 4)
            bytes.withUnsafeBufferPointer { out.appendRaw($0.baseAddress!, $0.count) }
            out.appendASCII(",\n")
            copied += 1
        }
        eventsWritten += UInt64(copied)
        unlink(path)
    }

    private func readWholeFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            result.append(contentsOf: chunk[..<n])
        }
        return result
    }

    // MARK: - Metadata

    private func writeSessionMetadata() {
        typealias Key = TraceVocabulary.Session
        let name = configuration.processName ?? ProcessInfoLite.executableName()
        out.appendEventHeader(
            phase: "M", category: nil, name: .text(TraceVocabulary.Chrome.processName.text), pid: pid, tid: pid,
            nanoseconds: nil)
        out.appendFirstArgument(TraceVocabulary.Arg.name)
        out.appendString(name)
        out.appendASCII("}},\n")
        out.appendEventHeader(
            phase: "M", category: TraceVocabulary.Category.session.text,
            name: .text(TraceVocabulary.Event.session.text), pid: pid, tid: pid, nanoseconds: nil)
        out.appendFirstArgument(Key.version)
        out.appendString(TraceVocabulary.version)
        out.appendArgumentKey(Key.cores)
        out.appendUInt(UInt64(max(sysconf(Int32(_SC_NPROCESSORS_ONLN)), 1)))
        out.appendArgumentKey(Key.host)
        out.appendString(ProcessInfoLite.hostName())
        out.appendArgumentKey(Key.clock)
        out.appendString(clock.name)
        out.appendArgumentKey(Key.clockDomain)
        out.appendASCII("\"CLOCK_MONOTONIC\"")
        let anchor = Self.clockAnchor()
        out.appendArgumentKey(Key.startTs)
        out.appendMicroseconds(nanoseconds: anchor.monotonic)
        out.appendArgumentKey(Key.wallStartUs)
        out.appendMicroseconds(nanoseconds: anchor.wall)
        out.appendArgumentKey(Key.flushIntervalMs)
        out.appendUInt(UInt64(configuration.flushInterval.wholeNanoseconds / 1_000_000))
        out.appendArgumentKey(Key.cpuSampleIntervalMs)
        out.appendUInt(UInt64((configuration.cpuSampleInterval?.wholeNanoseconds ?? 0) / 1_000_000))
        out.appendArgumentKey(Key.commandLine)
        out.appendString(ProcessInfoLite.commandLine())
        out.appendASCII("}},\n")
        eventsWritten += 2
    }

    /// CLOCK_MONOTONIC and CLOCK_REALTIME at one instant (nanoseconds): the wall clock read
    /// between two monotonic reads, paired with their midpoint.
    static func clockAnchor() -> (monotonic: Int64, wall: Int64) {
        var t = timespec()
        let before = Int64(cctrace_monotonic_ns())
        clock_gettime(CLOCK_REALTIME, &t)
        let after = Int64(cctrace_monotonic_ns())
        return (before + (after - before) / 2, Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec))
    }

    /// The closing event (written without a trailing comma) and `]`.
    private func finishLocked(reason: StaticString, signal: Int32) {
        finished = true
        writeSessionEnd(into: out, reason: reason, signal: signal)
        out.endArray()
        out.finish()
        close(out.fileDescriptor)
    }

    /// The session's closing event, without a trailing comma.
    private func writeSessionEnd(into w: TraceLineWriter, reason: StaticString, signal: Int32) {
        w.reserve(512)
        w.appendEventHeader(
            phase: "M", category: TraceVocabulary.Category.session.text,
            name: .text(TraceVocabulary.Event.sessionEnd.text), pid: pid, tid: pid, nanoseconds: nil)
        w.appendFirstArgument(TraceVocabulary.Session.reason)
        w.append(0x22)
        w.appendASCII(reason)
        w.append(0x22)
        w.appendArgumentKey(TraceVocabulary.Session.signal)
        w.appendInt(Int64(signal))
        w.appendArgumentKey(TraceVocabulary.Session.droppedEvents)
        w.appendUInt(reportedDrops)
        w.appendArgumentKey(TraceVocabulary.Session.eventsWritten)
        w.appendUInt(eventsWritten)
        if configuration.swiftTasks {
            w.appendArgumentKey(TraceVocabulary.Session.untracedSwiftJobs)
            w.appendUInt(cctrace_tasks_untraced_jobs())
        }
        let anchor = Self.clockAnchor()
        w.appendArgumentKey(TraceVocabulary.Session.endTs)
        w.appendMicroseconds(nanoseconds: anchor.monotonic)
        w.appendArgumentKey(TraceVocabulary.Session.wallEndUs)
        w.appendMicroseconds(nanoseconds: anchor.wall)
        w.appendASCII("}}\n")
    }
}

/// Executor-job pointers bound to traced tasks, so job runs are named after their task.
///
/// Fixed-size open addressing: binding never allocates. A rebind of a reused pointer replaces
/// the old entry.
final class TaskBindings {
    static let capacity = 1 << 14
    static let unknownJobName: UInt32 = NameTable.shared.intern("job")
    private let keys: UnsafeMutablePointer<UInt64>
    private let values: UnsafeMutablePointer<(taskID: UInt64, nameID: UInt32)>
    private var count = 0

    init() {
        keys = .allocate(capacity: Self.capacity)
        keys.initialize(repeating: 0, count: Self.capacity)
        values = .allocate(capacity: Self.capacity)
        values.initialize(repeating: (0, 0), count: Self.capacity)
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    func bind(pointer: UInt64, taskID: UInt64, nameID: UInt32) {
        if count >= Self.capacity * 3 / 4 { forgetOldest() }
        var i = slot(pointer)
        while keys[i] != 0 && keys[i] != pointer { i = (i + 1) & (Self.capacity - 1) }
        if keys[i] == 0 { count += 1 }
        keys[i] = pointer
        values[i] = (taskID, nameID)
    }

    func lookup(pointer: UInt64) -> (taskID: UInt64, nameID: UInt32)? {
        var i = slot(pointer)
        while keys[i] != 0 {
            if keys[i] == pointer { return (values[i].taskID, values[i].nameID) }
            i = (i + 1) & (Self.capacity - 1)
        }
        return nil
    }

    private func slot(_ key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 50) & (Self.capacity - 1)
    }

    /// Forgets every binding (allocation-free, so it is safe in a signal-time drain). Jobs of
    /// tasks bound before are then written as `job`; it takes 12k live tasks in one drain.
    private func forgetOldest() {
        keys.update(repeating: 0, count: Self.capacity)
        count = 0
    }
}
