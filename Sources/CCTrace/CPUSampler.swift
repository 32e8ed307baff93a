import CCTraceFormat
import CCTraceNative

#if canImport(Glibc)
    import Glibc
#endif

/// Per-thread CPU accounting without a syscall per span: the writer thread reads the
/// scheduler's statistics for every thread of the process (`/proc/self/task/*/schedstat`: time
/// on a CPU and time waiting in the run queue) and writes, per thread and interval, a counter
/// `cpu <tid>` with `running_pct` and `runnable_pct`, dated at the start of the interval it
/// describes. The analyzer integrates these over a span to split its wall time into running,
/// runnable and waiting.
final class CPUSampler {
    private struct Previous {
        var running: Int64
        var runnable: Int64
        var at: Int64
    }
    private var previous: [UInt32: Previous] = [:]
    private var named: Set<UInt32> = []

    /// Samples every thread and writes the counters for the interval since the last sample.
    /// Returns the number of events written.
    @discardableResult
    func sample(into out: TraceLineWriter, pid: UInt32, final: Bool) -> Int {
        var written = 0
        guard let dir = opendir("/proc/self/task") else { return 0 }
        defer { closedir(dir) }
        let registered = registeredThreads()
        var seen: Set<UInt32> = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let tid = UInt32(name) else { continue }
            seen.insert(tid)
            let now = Int64(cctrace_monotonic_ns())
            guard let stat = readSmallFile("/proc/self/task/\(tid)/schedstat", limit: 128) else { continue }
            let fields = stat.split(separator: " ")
            guard fields.count >= 2, let running = Int64(fields[0]), let runnable = Int64(fields[1]) else { continue }
            if !registered.contains(tid) && !named.contains(tid),
                let comm = readSmallFile("/proc/self/task/\(tid)/comm", limit: 64)
            {
                named.insert(tid)
                out.reserve(256)
                out.appendEventHeader(
                    phase: "M", category: nil, name: .text(TraceVocabulary.Chrome.threadName.text), pid: pid,
                    tid: tid, nanoseconds: nil)
                out.appendFirstArgument(TraceVocabulary.Arg.name)
                out.appendString(String(comm.prefix { $0 != "\n" }))
                out.appendASCII("}},\n")
                written += 1
            }
            if let p = previous[tid], now > p.at {
                let span = Double(now - p.at)
                out.reserve(256)
                cpuHeader(out, pid: pid, tid: tid, at: p.at)
                out.appendFirstArgument(TraceVocabulary.Arg.runningPct)
                out.appendNumber(min(100, Double(running - p.running) * 100 / span))
                out.appendArgumentKey(TraceVocabulary.Arg.runnablePct)
                out.appendNumber(min(100, Double(runnable - p.runnable) * 100 / span))
                out.appendASCII("}},\n")
                written += 1
            }
            previous[tid] = Previous(running: running, runnable: runnable, at: now)
        }
        previous = previous.filter { seen.contains($0.key) }
        if final {
            // A closing zero so viewers do not extend the last value past the end.
            for (tid, p) in previous {
                out.reserve(256)
                cpuHeader(out, pid: pid, tid: tid, at: p.at)
                out.appendFirstArgument(TraceVocabulary.Arg.runningPct)
                out.append(0x30)
                out.appendArgumentKey(TraceVocabulary.Arg.runnablePct)
                out.appendASCII("0}},\n")
                written += 1
            }
        }
        return written
    }

    /// `{"ph":"C","cat":"cctrace.cpu","name":"cpu <tid>",…,"ts":…`
    private func cpuHeader(_ out: TraceLineWriter, pid: UInt32, tid: UInt32, at: Int64) {
        out.appendEventHeader(
            phase: "C", category: TraceVocabulary.Category.cpu.text,
            name: .numbered(TraceVocabulary.Event.cpuPrefix.text, UInt64(tid)), pid: pid, tid: tid, nanoseconds: at)
    }

    private func registeredThreads() -> Set<UInt32> {
        let recorder = Recorder.shared
        var tids: Set<UInt32> = []
        let n = recorder.registryCount.load(ordering: .acquiring)
        for i in 0..<n {
            if let b = recorder.registry[i]?.takeUnretainedValue() { tids.insert(b.tid) }
        }
        return tids
    }
}

/// Process facts for the session metadata, without Foundation.
enum ProcessInfoLite {
    static func executableName() -> String {
        let args = commandLineArguments()
        guard let first = args.first else { return "process" }
        return String(first.split(separator: "/").last ?? Substring(first))
    }

    static func commandLine() -> String {
        commandLineArguments().joined(separator: " ")
    }

    static func commandLineArguments() -> [String] {
        guard let raw = readSmallFile("/proc/self/cmdline", limit: 16384) else { return [] }
        return raw.split(separator: "\0", omittingEmptySubsequences: true).map(String.init)
    }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
