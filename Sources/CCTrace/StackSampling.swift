import CCTraceFormat
import CCTraceNative
import CCTraceUnwind

#if canImport(Glibc)
    import Glibc
#endif

/// The writer's side of stack sampling: arms per-thread CPU-time timers (the profiler), runs
/// the blocked-loop watchdog over the watch slots, and writes the captured stacks, symbolized,
/// as thread instants of category `cctrace.sample`:
///
/// - `sample` (`args.kind` `cpu`): where a thread was after each period of its CPU time;
/// - `loop stall` (`args.kind` `watchdog`): where a thread was while a loop callback, executor
///   job or overdue heartbeat kept it busy past the threshold (`args.loop`, `args.stuck_ms`);
///   a thread blocked in the kernel is not signalled (that would cut its sleep short) — its
///   system call and user PC from `/proc` are written instead (`args.syscall`).
///
/// `args.frames` are innermost first, `args.locations` the same frames as `image+0xoffset` for
/// debug-info tools; `args.cost_ns` is what the capture cost the thread.
final class StackSampler {
    private let periodNs: Int
    private let watchdogNs: Int64?
    private let writerTID: Int32
    private let buffer: UnsafeMutablePointer<cctrace_sample>
    private static let bufferCapacity = 1024
    private var lastSync: Int64 = 0
    private var lastCapture = [Int64](repeating: 0, count: Int(CCTRACE_MAX_WATCHES))
    /// Per watch slot: the stall being captured (when it began), how many captures it had and
    /// the wait before the next one. A stall that lasts gets captured ever less often, and not
    /// at all after ``maxCapturesPerStall``: a thread stuck for hours must not fill the disk
    /// with the same stack.
    private var stallStart = [Int64](repeating: 0, count: Int(CCTRACE_MAX_WATCHES))
    private var stallCaptures = [Int](repeating: 0, count: Int(CCTRACE_MAX_WATCHES))
    private var stallInterval = [Int64](repeating: 0, count: Int(CCTRACE_MAX_WATCHES))
    static let maxCapturesPerStall = 12
    /// How long a Swift pool job must be blocked in the kernel before its stack is read.
    static let poolBlockedNs: Int64 = 5_000_000
    static let swiftPoolLabel = NameTable.shared.intern(TraceVocabulary.Event.swiftPoolThreadPrefix.string)
    /// Watchdog captures written so far (the flight recorder dumps on a new one).
    private(set) var stallsWritten = 0
    private var stopped = false
    /// Why a thread was asked for its stack: tid → (loop label, stuck since, ns).
    private var stalls: [Int32: (label: UInt32, since: Int64)] = [:]
    /// Stalls of blocked threads, written at the next drain.
    private var blocked: [(tid: Int32, label: UInt32, stuckNs: Int64, syscall: Int, stack: [UInt64], at: Int64)] = []
    private(set) var samplesWritten: UInt64 = 0
    /// Whether the signal handler is in place.
    let installed: Bool

    init?(configuration: TraceConfiguration, writerTID: UInt32) {
        let hz = configuration.sampleFrequency
        let watchdog = configuration.watchdogThreshold.map { max($0.wholeNanoseconds, 1_000_000) }
        guard hz > 0 || watchdog != nil else { return nil }
        periodNs = hz > 0 ? 1_000_000_000 / hz : 0
        watchdogNs = watchdog
        self.writerTID = Int32(bitPattern: writerTID)
        buffer = .allocate(capacity: Self.bufferCapacity)
        // 512 slots: the writer drains every ≤ 10 ms, so up to ~50 000 samples a second fit.
        installed =
            cctrace_sampler_install(Int32(configuration.stackDepth), 512, Int32(configuration.stackBytes)) == 1
    }

    deinit { buffer.deallocate() }

    /// Every writer tick: keeps the timers in step with the threads, and captures stuck threads.
    func tick(now: Int64, clock: ClockCalibration, lock: () -> Void, unlock: () -> Void) {
        guard !stopped else { return }
        if installed && periodNs > 0 && now - lastSync >= 50_000_000 {
            cctrace_sampler_sync_threads(periodNs, writerTID)
            lastSync = now
        }
        guard let threshold = watchdogNs else { return }
        let slots = Int(cctrace_watch_slots())
        for i in 0..<min(slots, Int(CCTRACE_MAX_WATCHES)) {
            var tid: Int32 = 0
            var label: UInt32 = 0
            var monotonic: UInt32 = 0
            let raw = cctrace_watch_read(Int32(i), &tid, &label, &monotonic)
            guard raw != 0, tid > 0, tid != writerTID else { continue }
            let since = monotonic != 0 ? Int64(bitPattern: raw) : clock.nanoseconds(raw)
            let stuck = now - since
            // Capture once past the threshold, then after half the threshold, and each wait
            // twice the last while the same stall lasts (at most 12 captures of one stall).
            if stallStart[i] != since {
                stallStart[i] = since
                stallCaptures[i] = 0
                stallInterval[i] = max(threshold / 2, 1)
            }
            // A job of Swift's cooperative pool blocked in the kernel is captured sooner: the
            // pool has one thread per core, so even short blocking calls add up to a stalled
            // pool, and reading a blocked thread's stack from beside it costs the thread nothing.
            let isPool = label == Self.swiftPoolLabel
            let due = isPool ? min(threshold, Self.poolBlockedNs) : threshold
            guard stuck >= due, stallCaptures[i] < Self.maxCapturesPerStall,
                stallCaptures[i] == 0 || now - lastCapture[i] >= stallInterval[i], lastCapture[i] < now
            else { continue }
            var syscall = -1
            var pc: UInt64 = 0
            let state = cctrace_thread_state(tid, &syscall, &pc)
            let running = state == UInt8(ascii: "R") || state == 0
            if running && stuck < threshold { continue }
            if stallCaptures[i] > 0 { stallInterval[i] = min(stallInterval[i] * 2, 60_000_000_000) }
            stallCaptures[i] += 1
            lastCapture[i] = now
            if running {
                if installed && cctrace_sampler_capture(tid) == 1 { stalls[tid] = (label, since) }
            } else {
                // Blocked in the kernel: never signalled (that would cut its sleep short); its
                // stack is read from beside it instead.
                var stack = [UInt64](repeating: 0, count: 32)
                let n = Int(cctrace_blocked_stack(tid, &stack, Int32(stack.count)))
                stack.removeLast(stack.count - n)
                if stack.isEmpty && pc != 0 { stack = [pc + 1] }
                lock()
                blocked.append((tid, label, stuck, syscall, stack, now))
                unlock()
            }
        }
    }

    /// Writes what was captured. Caller holds the writer's drain lock.
    func drain(into out: TraceLineWriter, pid: UInt32, symbolizer: StackSymbolizer) -> UInt64 {
        var written: UInt64 = 0
        for b in blocked {
            var frames = ["\(Self.syscallName(b.syscall)) (blocked in the kernel)"]
            var locations = ["?"]
            for address in b.stack {
                let frame = symbolizer.frame(returnAddress: UInt(address))
                if StackSymbolizer.isRecorderFrame(frame) && frames.count > 1 { continue }
                frames.append(frame)
                locations.append(symbolizer.location(returnAddress: UInt(address)))
            }
            writeEvent(
                out, name: TraceVocabulary.Event.loopStall.text, pid: pid, tid: b.tid, at: b.at, kind: "watchdog",
                label: b.label,
                stuckNs: b.stuckNs, syscall: b.syscall, cost: 0, frames: frames, locations: locations)
            written += 1
            stallsWritten += 1
        }
        blocked.removeAll(keepingCapacity: true)
        while true {
            let n = Int(cctrace_sampler_drain(buffer, Int32(Self.bufferCapacity)))
            for k in 0..<n {
                let s = buffer[k]
                let (frames, locations) = Self.frames(of: s, symbolizer: symbolizer)
                let at = Int64(bitPattern: s.timestamp)
                if s.kind == 1, let stall = stalls.removeValue(forKey: s.tid) {
                    writeEvent(
                        out, name: TraceVocabulary.Event.loopStall.text, pid: pid, tid: s.tid, at: at, kind: "watchdog",
                        label: stall.label,
                        stuckNs: at - stall.since, syscall: nil, cost: s.cost, frames: frames, locations: locations)
                    stallsWritten += 1
                } else {
                    writeEvent(
                        out, name: TraceVocabulary.Event.sample.text, pid: pid, tid: s.tid, at: at, kind: "cpu",
                        label: nil, stuckNs: nil,
                        syscall: nil, cost: s.cost, frames: frames, locations: locations)
                }
                written += 1
            }
            if n < Self.bufferCapacity { break }
        }
        samplesWritten += written
        return written
    }

    /// Drains what was captured without writing it (the trace is full); returns how many.
    func discard() -> UInt64 {
        var n: UInt64 = UInt64(blocked.count)
        blocked.removeAll(keepingCapacity: true)
        while true {
            let k = Int(cctrace_sampler_drain(buffer, Int32(Self.bufferCapacity)))
            n += UInt64(k)
            if k < Self.bufferCapacity { break }
        }
        stalls.removeAll()
        return n
    }

    /// Stops the timers and the watchdog.
    func stop() {
        stopped = true
        if installed && periodNs > 0 { cctrace_sampler_sync_threads(0, writerTID) }
    }

    private static func frames(of sample: cctrace_sample, symbolizer: StackSymbolizer) -> ([String], [String]) {
        var s = sample
        let depth = Int(s.depth)
        var frames: [String] = []
        var locations: [String] = []
        withUnsafeBytes(of: &s.frames) { raw in
            let addresses = raw.bindMemory(to: UInt.self)
            for i in 0..<min(depth, addresses.count) {
                // The first frame is the interrupted instruction itself, not a return address
                // (the symbolizer looks one byte before what it is given).
                let address = i == 0 ? addresses[i] + 1 : addresses[i]
                frames.append(symbolizer.frame(returnAddress: address))
                locations.append(symbolizer.location(returnAddress: address))
            }
        }
        return (frames, locations)
    }

    private func writeEvent(
        _ out: TraceLineWriter, name: StaticString, pid: UInt32, tid: Int32, at: Int64, kind: StaticString,
        label: UInt32?, stuckNs: Int64?, syscall: Int?, cost: UInt64, frames: [String], locations: [String]
    ) {
        out.reserve(256)
        typealias Arg = TraceVocabulary.Arg
        out.appendEventHeader(
            phase: "i", scope: "t", category: TraceVocabulary.Category.sample.text, name: .text(name), pid: pid,
            tid: UInt32(bitPattern: tid), nanoseconds: at)
        out.appendFirstArgument(Arg.kind)
        out.append(0x22)
        out.appendASCII(kind)
        out.append(0x22)
        if let label {
            out.appendArgumentKey(Arg.loop)
            let (bytes, length) = NameTable.shared.bytes(of: label)
            out.appendString(bytes, length)
        }
        if let stuckNs {
            out.appendArgumentKey(Arg.stuckMs)
            out.appendUInt(UInt64(max(0, stuckNs / 1_000_000)))
        }
        if let syscall {
            out.appendArgumentKey(Arg.syscall)
            out.appendString(Self.syscallName(syscall))
        }
        out.appendArgumentKey(Arg.costNs)
        out.appendUInt(cost)
        out.appendArgumentKey(Arg.frames)
        out.appendStringArray(frames)
        out.appendArgumentKey(Arg.locations)
        out.appendStringArray(locations)
        out.appendASCII("}},\n")
    }

    /// x86-64 system call names for the calls a blocked loop thread is usually in.
    static func syscallName(_ number: Int) -> String {
        switch number {
        case 0: "read"
        case 1: "write"
        case 7: "poll"
        case 17: "pread64"
        case 18: "pwrite64"
        case 19: "readv"
        case 20: "writev"
        case 23: "select"
        case 35: "nanosleep"
        case 42: "connect"
        case 43: "accept"
        case 44: "sendto"
        case 45: "recvfrom"
        case 46: "sendmsg"
        case 47: "recvmsg"
        case 61: "wait4"
        case 74: "fsync"
        case 75: "fdatasync"
        case 202: "futex"
        case 230: "clock_nanosleep"
        case 232: "epoll_wait"
        case 270: "pselect6"
        case 271: "ppoll"
        case 281: "epoll_pwait"
        case 288: "accept4"
        case 441: "epoll_pwait2"
        case -1: "a system call"
        default: "syscall \(number)"
        }
    }
}
