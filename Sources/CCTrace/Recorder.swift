import CCTraceFormat
import CCTraceNative
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The process-wide recording engine behind ``CCTrace``: sessions, the thread registry and the
/// slow paths of recording. The fast path is `cctrace_append` in CCTraceNative.
final class Recorder: @unchecked Sendable {
    static let shared = Recorder()

    /// Serializes start and stop.
    private let lifecycle = Mutex<Void>(())
    /// Guards the registry's appends and the exit hook.
    let registryLock = Mutex<Void>(())
    /// Buffers of the running session; appended under `registryLock`, read by the writer by
    /// index below `registryCount`.
    let registry: UnsafeMutablePointer<Unmanaged<ThreadBuffer>?>
    static let registryCapacity = 1 << 16
    let registryCount = Atomic<Int>(0)
    /// Events lost because a thread could not even get a buffer (registry full, no memory).
    let unbufferedDrops = Atomic<UInt64>(0)

    /// The session being recorded, if any (written under `lifecycle`).
    private(set) nonisolated(unsafe) var session: TraceSession?
    /// Children spawned by ``TracedProcess`` in this session, and whether they were waited for.
    private let children = Mutex<[pid_t: Bool]>([:])

    /// Process-wide id source for async slices (task ids, demoted spans).
    let nextAsyncID = Atomic<UInt64>(1)

    private init() {
        registry = .allocate(capacity: Self.registryCapacity)
        registry.initialize(repeating: nil, count: Self.registryCapacity)
        cctrace_set_thread_exit_hook { state in
            guard let state else { return }
            Recorder.shared.threadExited(state)
        }
    }

    // MARK: - Sessions

    func start(_ configuration: TraceConfiguration) throws(TraceSessionError) {
        try lifecycle.withLock { _ throws(TraceSessionError) in
            guard session == nil else { throw .alreadyRecording }
            // A flight recorder writes only its dumps (each a file of its own).
            let fd =
                configuration.ring != nil
                ? open("/dev/null", O_WRONLY | O_CLOEXEC)
                : open(configuration.outputPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw .cannotOpen(path: configuration.outputPath, errno: errno)
            }
            ChunkPool.shared.setLimit(bytes: configuration.bufferLimit)
            let clock = ClockCalibration(choice: configuration.clock)
            cctrace_begin_generation(clock.usesTSC ? 1 : 0)
            registryLock.withLock { _ in
                for i in 0..<registryCount.load(ordering: .relaxed) {
                    registry[i]?.release()
                    registry[i] = nil
                }
                registryCount.store(0, ordering: .releasing)
            }
            unbufferedDrops.store(0, ordering: .relaxed)
            let s = TraceSession(configuration: configuration, fileDescriptor: fd, clock: clock)
            session = s
            s.writer.start()
            cctrace_set_enabled(configuration.threadCPUTime ? 3 : 1)
            cctrace_install_signal_handlers { signo in Recorder.shared.flushFromSignal(signo) }
            cctrace_register_atexit { Recorder.shared.stopAtExit() }
            if let signal = configuration.ring?.signal { _ = cctrace_install_dump_signal(signal) }
            if configuration.swiftTasks { installTaskHooks(clock: clock) }
        }
    }

    /// Asks the flight recorder for a dump and waits (up to 5 s) for it; the path written.
    func dump() -> String? {
        guard let s = lifecycle.withLock({ _ in session }), s.configuration.ring != nil else { return nil }
        let before = s.writer.dumpPaths.count
        cctrace_request_dump()
        for _ in 0..<1000 {
            let paths = s.writer.dumpPaths
            if paths.count > before { return paths.last }
            var ts = timespec(tv_sec: 0, tv_nsec: 5_000_000)
            nanosleep(&ts, nil)
        }
        return nil
    }

    /// Events written and dropped by the last session that stopped.
    let lastTotals = Mutex<(written: UInt64, dropped: UInt64)>((0, 0))

    func stop() {
        lifecycle.withLock { _ in
            guard let s = session else { return }
            cctrace_set_enabled(0)
            // Children that ended have written their files; merge them into ours.
            let ended = children.withLock { c in
                defer { c = [:] }
                return c.filter(\.value).keys.sorted()
            }
            s.writer.stopAndFinish(mergingChildren: ended.map { s.configuration.outputPath + ".\($0)" })
            lastTotals.withLock { $0 = (s.writer.eventsWritten, s.writer.eventsDropped) }
            cctrace_uninstall_signal_handlers()
            cctrace_uninstall_dump_signal()
            cctrace_tasks_uninstall()
            session = nil
        }
    }

    /// Hooks the Swift runtime's global executor so every job it runs is recorded
    /// (cctrace_tasks.c): no code in the app, and nothing installed while not recording.
    private func installTaskHooks(clock: ClockCalibration) {
        cctrace_tasks_set_ticks_per_ns(clock.ticksPerNanosecond)
        guard cctrace_tasks_prepare() == 1 else { return }
        // The runtime keeps its per-priority queues to itself: a tiny task of each priority,
        // started before the hooks, runs on its queue and makes it known, so even a program
        // whose tasks are all started from the main thread has its jobs traced from the start.
        let priorities: [UInt8] = [0x21, 0x19, 0x15, 0x11, 0x09, 0x00]
        let before = cctrace_tasks_probes_done()
        for raw in priorities {
            Task.detached(priority: TaskPriority(rawValue: raw)) { cctrace_tasks_probe_current_queue() }
        }
        // A program starts its tasks at once: wait for the probes (they take well under a
        // millisecond), but never more than 20 ms — a busy pool leaves the rest to be found
        // from inside, and meanwhile the jobs run untraced (and counted).
        let deadline = cctrace_monotonic_ns() + 20_000_000
        while cctrace_tasks_probes_done() - before < Int32(priorities.count) && cctrace_monotonic_ns() < deadline {
            usleep(50)
        }
        _ = cctrace_tasks_install(
            NameTable.shared.intern(TraceVocabulary.Event.swiftPoolThreadPrefix.string),
            { kind, flags, name, length, ts, end, aux in
                Recorder.shared.appendSlow(
                    kind: kind, flags: flags, name: name, nameLength: length, ts: ts, end: end, aux: aux)
            },
            { Recorder.shared.nameSwiftPoolThread() },
            { Recorder.shared.setThreadName(TraceVocabulary.Event.mainActorThread.string) })
    }

    private let swiftPoolThreads = Atomic<Int>(0)

    /// Names a thread that runs Swift's global executor's jobs as part of the pool
    /// (`swift-pool-N`); Dispatch's own name for it (`com.apple.root.default-qos`) says less.
    func nameSwiftPoolThread() {
        let n = swiftPoolThreads.add(1, ordering: .relaxed).newValue
        setThreadName("\(TraceVocabulary.Event.swiftPoolThreadPrefix.string)-\(n)")
    }

    func childSpawned(pid: pid_t) {
        children.withLock { $0[pid] = false }
    }

    func childEnded(pid: pid_t) {
        children.withLock { c in
            if c[pid] != nil { c[pid] = true }
        }
    }

    func flush() {
        lifecycle.withLock { _ in session?.writer.drainNow() }
    }

    private func stopAtExit() {
        stop()
    }

    /// Called from the fatal-signal handler: write what is buffered and close the array.
    private func flushFromSignal(_ signo: Int32) {
        guard let s = session else { return }
        cctrace_set_enabled(0)
        s.writer.finishFromSignal(signo)
    }

    // MARK: - Threads

    /// The calling thread's buffer state for the running session, registering the thread on
    /// first use. `nil` when not recording or when no buffer can be had.
    func currentState() -> UnsafeMutablePointer<cctrace_thread_state>? {
        guard cctrace_is_enabled() else { return nil }
        if let s = cctrace_current_state(), s.pointee.generation == cctrace_current_generation() {
            return s
        }
        return register()
    }

    private func register() -> UnsafeMutablePointer<cctrace_thread_state>? {
        // A state left over from an earlier session belongs to this thread alone now: that
        // session's writer finished before it returned from stop.
        if let old = cctrace_current_state() {
            if let chunk = old.pointee.current { ChunkPool.shared.release(chunk) }
            cctrace_clear_current_state()
            old.deallocate()
        }
        guard let chunk = acquireChunk() else {
            unbufferedDrops.add(1, ordering: .relaxed)
            return nil
        }
        let state = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64)
            .bindMemory(to: cctrace_thread_state.self, capacity: 1)
        state.initialize(
            to: cctrace_thread_state(
                cursor: chunk.pointee.events, limit: chunk.pointee.events + Int(chunk.pointee.capacity),
                generation: cctrace_current_generation(), current: chunk, dropped: 0, tid: cctrace_gettid(),
                pid: UInt32(getpid()), owner: nil, padding: (0)))
        let buffer = ThreadBuffer(state: state, firstChunk: chunk)
        let added: Bool = registryLock.withLock { _ in
            let n = registryCount.load(ordering: .relaxed)
            guard n < Self.registryCapacity else { return false }
            registry[n] = Unmanaged.passRetained(buffer)
            state.pointee.owner = Unmanaged.passUnretained(buffer).toOpaque()
            registryCount.store(n + 1, ordering: .releasing)
            return true
        }
        guard added else {
            ChunkPool.shared.release(chunk)
            state.deallocate()
            unbufferedDrops.add(1, ordering: .relaxed)
            return nil
        }
        cctrace_tls_install(state)
        recordThreadNameFromSystem(buffer)
        return state
    }

    private func threadExited(_ state: UnsafeMutablePointer<cctrace_thread_state>) {
        registryLock.withLock { _ in
            guard state.pointee.generation == cctrace_current_generation(), let owner = state.pointee.owner
            else { return }
            Unmanaged<ThreadBuffer>.fromOpaque(owner).takeUnretainedValue().exited.store(
                true, ordering: .releasing)
        }
    }

    private func recordThreadNameFromSystem(_ buffer: ThreadBuffer) {
        var name = [CChar](repeating: 0, count: 64)
        guard cctrace_get_thread_name(&name, UInt(name.count)) == 0 else { return }
        let s = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if !s.isEmpty { setThreadName(s) }
    }

    func setThreadName(_ name: String) {
        let id = intern(name)
        appendSlow(
            kind: EventKind.threadName, flags: EventCategory.flags(0, interned: true),
            name: UInt64(id), nameLength: 0, ts: cctrace_now(), end: 0, aux: 0)
    }

    // MARK: - Slow paths

    /// Interns `name` through the calling thread's cache.
    func intern(_ name: String) -> UInt32 {
        if let s = currentState(), let owner = s.pointee.owner {
            let buffer = Unmanaged<ThreadBuffer>.fromOpaque(owner).takeUnretainedValue()
            if let id = buffer.nameCache[name] { return id }
            let id = NameTable.shared.intern(name)
            buffer.nameCache[name] = id
            return id
        }
        return NameTable.shared.intern(name)
    }

    /// Appends an event when the fast path could not: the thread is new to the session or its
    /// chunk is full.
    func appendSlow(
        kind: UInt8, flags: UInt8, name: UInt64, nameLength: UInt16, ts: UInt64, end: UInt64,
        aux: UInt32
    ) {
        guard let state = currentState() else { return }
        if cctrace_append(kind, flags, name, nameLength, ts, end, aux) { return }
        guard advanceChunk(state) else { return }
        _ = cctrace_append(kind, flags, name, nameLength, ts, end, aux)
    }

    /// Moves the thread to a fresh chunk. Returns false (and counts a drop) when none is free.
    func advanceChunk(_ state: UnsafeMutablePointer<cctrace_thread_state>) -> Bool {
        guard let next = acquireChunk() else {
            state.pointee.dropped &+= 1
            return false
        }
        cctrace_switch_chunk(state, next)
        return true
    }

    /// Appends a counter sample dated in monotonic nanoseconds, with arg `key`.
    func appendCounter(nameID: UInt32, category: UInt8, key: StaticString, value: Double, monotonicNanoseconds: Int64) {
        let keyID = NameTable.shared.intern(String(describing: key))
        guard keyID <= UInt16.max else { return }
        CCTrace._append(
            EventKind.counterAt, EventCategory.flags(category, interned: true), UInt64(nameID), UInt16(keyID),
            UInt64(bitPattern: monotonicNanoseconds), value.bitPattern, 0)
    }

    /// A chunk from the pool under the session's overflow policy: `drop` gives up at once,
    /// `block` waits for the writer to free one.
    private func acquireChunk() -> UnsafeMutablePointer<cctrace_chunk>? {
        var chunk = ChunkPool.shared.mightHaveChunks ? ChunkPool.shared.acquire() : nil
        if chunk == nil && session?.configuration.overflow == .block {
            while chunk == nil && cctrace_is_enabled() {
                usleep(200)
                chunk = ChunkPool.shared.acquire()
            }
        }
        return chunk
    }

    /// Copies an encoded `args` object into the thread's arena and returns the `aux` value that
    /// refers to it (0 when it could not be stored).
    func storeArguments(_ encoded: [UInt8]) -> UInt32 {
        encoded.withUnsafeBufferPointer { storeArguments(prefix: $0, number: nil, suffix: .init(start: nil, count: 0)) }
    }

    /// Stores `prefix`, then `number` in decimal (if any), then `suffix` as one `args` entry,
    /// without allocating: the form the IPC and lock paths use for `"bytes":N,…`.
    func storeArguments(
        prefix: UnsafeBufferPointer<UInt8>, number: Int?, suffix: UnsafeBufferPointer<UInt8>
    ) -> UInt32 {
        guard let state = currentState() else { return 0 }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        let digitCount = withUnsafeMutableBytes(of: &digits) { scratch -> Int in
            guard var v = number else { return 0 }
            let negative = v < 0
            if negative { v = -v }
            var n = 0
            repeat {
                scratch[23 - n] = UInt8(0x30 + v % 10)
                v /= 10
                n += 1
            } while v != 0
            if negative {
                scratch[23 - n] = 0x2D
                n += 1
            }
            return n
        }
        let count = prefix.count + digitCount + suffix.count
        let needed = count + 4
        guard needed <= ChunkPool.arenaBytes else { return 0 }
        var chunk = state.pointee.current!
        let full =
            !cctrace_has_room(state) || Int(chunk.pointee.arena_used) + needed > Int(chunk.pointee.arena_capacity)
        if full {
            guard advanceChunk(state) else { return 0 }
            chunk = state.pointee.current!
        }
        let offset = Int(chunk.pointee.arena_used)
        var p = chunk.pointee.arena! + offset
        var length = UInt32(count)
        withUnsafeBytes(of: &length) { p.update(from: $0.bindMemory(to: UInt8.self).baseAddress!, count: 4) }
        p += 4
        if let base = prefix.baseAddress {
            p.update(from: base, count: prefix.count)
            p += prefix.count
        }
        withUnsafeBytes(of: &digits) { raw in
            p.update(from: raw.bindMemory(to: UInt8.self).baseAddress! + 24 - digitCount, count: digitCount)
        }
        p += digitCount
        if let base = suffix.baseAddress { p.update(from: base, count: suffix.count) }
        chunk.pointee.arena_used = UInt32(offset + needed)
        return UInt32(offset + 1)
    }
}

/// Why a session could not start.
public enum TraceSessionError: Error, CustomStringConvertible, Sendable {
    /// A session is already recording in this process.
    case alreadyRecording
    /// The output file could not be opened.
    case cannotOpen(path: String, errno: Int32)

    public var description: String {
        switch self {
        case .alreadyRecording: "a cctrace session is already recording"
        case .cannotOpen(let path, let e): "cannot open \(path): \(String(cString: strerror(e)))"
        }
    }
}

/// One recording: its configuration, output and writer.
final class TraceSession: @unchecked Sendable {
    let configuration: TraceConfiguration
    let writer: TraceWriter

    init(configuration: TraceConfiguration, fileDescriptor: Int32, clock: ClockCalibration) {
        self.configuration = configuration
        self.writer = TraceWriter(configuration: configuration, fileDescriptor: fileDescriptor, clock: clock)
    }
}
