#if canImport(Glibc)
    import Glibc
#endif

/// How a recording session behaves: where it writes, how often, and what it does when full.
///
/// Every field can also be set from the environment (see ``init(environment:)``), which is how a
/// program that links CCTrace is traced without code changes.
public struct TraceConfiguration: Sendable {
    /// The trace file to write (created or truncated).
    public var outputPath: String
    /// How often the background writer moves buffered events to the file. A process killed with
    /// SIGKILL loses at most about this much. Default 100 ms.
    public var flushInterval: Duration
    /// Memory the per-thread buffers may use in total, in bytes. Default 128 MiB.
    public var bufferLimit: Int
    /// What a recording thread does when the buffers are full.
    public var overflow: OverflowPolicy
    /// Which clock timestamps come from.
    public var clock: ClockChoice
    /// How often per-thread CPU use is sampled from the scheduler; `nil` turns it off.
    /// Default 20 ms.
    public var cpuSampleInterval: Duration?
    /// The process name written as metadata; default: the executable's file name.
    public var processName: String?
    /// Also record each span's thread CPU time as `tts`/`tdur`. Exact, but it costs a syscall
    /// per span end (≈ 650 ns here, `CLOCK_THREAD_CPUTIME_ID`); the sampled per-thread CPU
    /// counters are the cheap alternative. Default off.
    public var threadCPUTime: Bool
    /// Stack samples per second of each thread's CPU time (a per-thread CPU-clock timer whose
    /// signal handler copies the top of the stack; the writer unwinds it); 0 turns the
    /// profiler off. Default 0. The kernel
    /// delivers CPU-time timers at up to ~250 Hz here.
    public var sampleFrequency: Int
    /// A loop callback, executor job or overdue loop heartbeat older than this gets the stack of
    /// its thread captured while it is stuck (the blocked-loop watchdog); `nil` turns it off.
    /// Default 100 ms.
    public var watchdogThreshold: Duration?
    /// Deepest stack a sample keeps (1…64). Default 32.
    public var stackDepth: Int
    /// Bytes of each sampled thread's stack the signal handler copies for the writer to unwind
    /// (frames beyond them are cut off). Default 16 KiB: Swift and C frames are tens to a few
    /// hundred bytes, so 32 frames fit with room to spare.
    public var stackBytes: Int
    /// The most the trace file may grow to, in bytes; `nil` for no limit. Past it, events are
    /// dropped (and counted: the trace says how many) and stack sampling stops, so a program
    /// left running — or stuck — never fills the disk. Default: a quarter of the free space
    /// where the trace is written when recording starts, between 256 MiB and 16 GiB.
    public var maxBytes: Int?
    /// Flight-recorder mode: keep the last ``ringBytes`` of formatted events in memory and
    /// write nothing until a trigger, then the window as a trace of its own
    /// (`app.trace.dump1.json`, `…dump2…`). `nil`: stream to ``outputPath`` (the default).
    public var ring: Ring?
    /// Records every job Swift's global executor runs (tasks, actors, sleeps) through the
    /// runtime's executor hooks, with no code in the app. Default on; the hooks are installed
    /// only while a session records.
    public var swiftTasks: Bool

    /// What the flight recorder keeps and what makes it write.
    public struct Ring: Sendable, Hashable {
        /// Bytes of formatted events kept. Default 64 MiB.
        public var bytes = 64 << 20
        /// A signal that asks for a dump (`nil`: none). Default SIGUSR2.
        public var signal: Int32? = SIGUSR2
        /// A lock wait at least this long triggers a dump (`nil`: never). Default 100 ms.
        public var lockWait: Duration? = .milliseconds(100)
        /// A stall the watchdog captures triggers a dump. Default on.
        public var onStall = true
        /// A fatal signal writes the window (best effort, bounded like the crash flush).
        public var onCrash = true
        /// Automatic triggers (stall, lock wait) are at least this far apart. Default 10 s.
        public var cooldown: Duration = .seconds(10)

        public init() {}
    }

    /// What to do when a thread's buffer is full and no memory is left under ``bufferLimit``.
    public struct OverflowPolicy: Hashable, Sendable, CustomStringConvertible {
        let rawValue: String
        /// Drop the event and count it; the count is written to the trace. Never blocks.
        public static let drop = OverflowPolicy(rawValue: "drop")
        /// Wait for the writer to free a buffer. Loses nothing, but can stall the app.
        public static let block = OverflowPolicy(rawValue: "block")
        public var description: String { rawValue }
    }

    /// The clock behind timestamps. Either way, the file holds `CLOCK_MONOTONIC` time.
    public struct ClockChoice: Hashable, Sendable, CustomStringConvertible {
        let rawValue: String
        /// The TSC where the kernel trusts it (invariant, and the current clocksource),
        /// otherwise `CLOCK_MONOTONIC`.
        public static let automatic = ClockChoice(rawValue: "auto")
        /// The TSC, converted to `CLOCK_MONOTONIC` time by calibration (≈ 11 ns a read here).
        public static let tsc = ClockChoice(rawValue: "tsc")
        /// `clock_gettime(CLOCK_MONOTONIC)` on every read (≈ 29 ns here).
        public static let monotonic = ClockChoice(rawValue: "monotonic")
        public var description: String { rawValue }
    }

    /// A configuration that writes to `outputPath` with the defaults.
    public init(outputPath: String) {
        self.outputPath = outputPath
        self.flushInterval = .milliseconds(100)
        self.bufferLimit = 128 << 20
        self.overflow = .drop
        self.clock = .automatic
        self.cpuSampleInterval = .milliseconds(20)
        self.processName = nil
        self.threadCPUTime = false
        self.sampleFrequency = 0
        self.watchdogThreshold = .milliseconds(100)
        self.stackDepth = 32
        self.stackBytes = 16 << 10
        self.maxBytes = Self.defaultMaxBytes(for: outputPath)
        self.ring = nil
        self.swiftTasks = true
    }

    /// A quarter of the free space of `path`'s file system, between 256 MiB and 16 GiB.
    static func defaultMaxBytes(for path: String) -> Int {
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        var info = statvfs()
        guard statvfs(directory.isEmpty ? "/" : directory, &info) == 0 else { return 1 << 30 }
        let free = Int(info.f_bavail) &* Int(info.f_frsize)
        return min(max(free / 4, 256 << 20), 16 << 30)
    }

    /// The configuration the environment asks for, or `nil` when `CCTRACE_OUTPUT` is unset.
    ///
    /// | variable | meaning | default |
    /// |---|---|---|
    /// | `CCTRACE_OUTPUT` | trace file; setting it turns recording on | — |
    /// | `CCTRACE_FLUSH_MS` | writer interval in ms | 100 |
    /// | `CCTRACE_BUFFER_MB` | buffer memory in MiB | 128 |
    /// | `CCTRACE_OVERFLOW` | `drop` or `block` | drop |
    /// | `CCTRACE_CLOCK` | `auto`, `tsc` or `monotonic` | auto |
    /// | `CCTRACE_CPU_SAMPLE_MS` | CPU sampling interval in ms, 0 = off | 20 |
    /// | `CCTRACE_PROCESS_NAME` | process name in the trace | executable name |
    /// | `CCTRACE_THREAD_CPU` | `1`: `tts`/`tdur` on every span (a syscall each) | 0 |
    /// | `CCTRACE_SAMPLE_HZ` | stack samples per second of CPU time per thread, 0 = off | 0 |
    /// | `CCTRACE_WATCHDOG_MS` | capture a stuck loop's stack after this many ms, 0 = off | 100 |
    /// | `CCTRACE_STACK_DEPTH` | frames per sample (1…64) | 32 |
    /// | `CCTRACE_STACK_KB` | stack copied per sample, KiB (1…1024) | 16 |
    /// | `CCTRACE_MODE` | `stream`, or `ring` (flight recorder: dumps on a trigger) | stream |
    /// | `CCTRACE_RING_MB` | flight recorder's window, MiB | 64 |
    /// | `CCTRACE_RING_SIGNAL` | signal number that dumps, 0 = none | SIGUSR2 (12) |
    /// | `CCTRACE_RING_LOCK_MS` | a lock wait this long dumps, 0 = never | 100 |
    /// | `CCTRACE_SWIFT_TASKS` | `0`: don't hook Swift's global executor | 1 |
    /// | `CCTRACE_MAX_MB` | largest trace file in MiB, 0 = no limit | ¼ of free space, 256 MiB…16 GiB |
    ///
    /// In `CCTRACE_OUTPUT`, `%p` is replaced by the process id, so children that inherit the
    /// variable write their own files.
    public init?(environment: [String: String]) {
        guard let output = environment["CCTRACE_OUTPUT"], !output.isEmpty else { return nil }
        self.init(outputPath: output.replacingPercentP(with: Int(getpid())))
        if let ms = environment["CCTRACE_FLUSH_MS"].flatMap(Int.init), ms > 0 {
            flushInterval = .milliseconds(ms)
        }
        if let mb = environment["CCTRACE_BUFFER_MB"].flatMap(Int.init), mb > 0 {
            bufferLimit = mb << 20
        }
        switch environment["CCTRACE_OVERFLOW"] {
        case "block": overflow = .block
        default: overflow = .drop
        }
        switch environment["CCTRACE_CLOCK"] {
        case "tsc": clock = .tsc
        case "monotonic": clock = .monotonic
        default: clock = .automatic
        }
        if let ms = environment["CCTRACE_CPU_SAMPLE_MS"].flatMap(Int.init) {
            cpuSampleInterval = ms > 0 ? .milliseconds(ms) : nil
        }
        processName = environment["CCTRACE_PROCESS_NAME"]
        threadCPUTime = environment["CCTRACE_THREAD_CPU"] == "1"
        if let hz = environment["CCTRACE_SAMPLE_HZ"].flatMap(Int.init), hz > 0 { sampleFrequency = min(hz, 1000) }
        if let ms = environment["CCTRACE_WATCHDOG_MS"].flatMap(Int.init) {
            watchdogThreshold = ms > 0 ? .milliseconds(ms) : nil
        }
        swiftTasks = environment["CCTRACE_SWIFT_TASKS"] != "0"
        if let depth = environment["CCTRACE_STACK_DEPTH"].flatMap(Int.init) { stackDepth = max(1, min(depth, 64)) }
        if environment["CCTRACE_MODE"] == "ring" {
            var ring = Ring()
            if let mb = environment["CCTRACE_RING_MB"].flatMap(Int.init), mb > 0 { ring.bytes = min(mb, 1 << 16) << 20 }
            if let n = environment["CCTRACE_RING_SIGNAL"].flatMap(Int32.init) {
                ring.signal = n > 0 && n < 65 ? n : nil
            }
            if let ms = environment["CCTRACE_RING_LOCK_MS"].flatMap(Int.init) {
                ring.lockWait = ms > 0 ? .milliseconds(ms) : nil
            }
            self.ring = ring
        }
        if let mb = environment["CCTRACE_MAX_MB"].flatMap(Int.init), mb >= 0 { maxBytes = mb > 0 ? mb << 20 : nil }
        if let kb = environment["CCTRACE_STACK_KB"].flatMap(Int.init), kb > 0 { stackBytes = min(kb, 1024) << 10 }
    }

    /// The configuration from this process's environment, or `nil` when `CCTRACE_OUTPUT` is unset.
    public static func fromProcessEnvironment() -> TraceConfiguration? {
        TraceConfiguration(environment: ProcessEnvironment.current())
    }
}

extension String {
    fileprivate func replacingPercentP(with pid: Int) -> String {
        guard contains("%p") else { return self }
        var out = ""
        var chars = self[...]
        while let r = chars.firstRange(of: "%p") {
            out += chars[..<r.lowerBound]
            out += String(pid)
            chars = chars[r.upperBound...]
        }
        return out + chars
    }
}

/// Reads `environ` without Foundation.
enum ProcessEnvironment {
    static func current() -> [String: String] {
        var result: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") {
                result[String(s[..<eq])] = String(s[s.index(after: eq)...])
            }
            p += 1
        }
        return result
    }
}

extension Duration {
    /// The duration in whole nanoseconds.
    var wholeNanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}
