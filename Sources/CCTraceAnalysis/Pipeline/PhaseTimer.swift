#if canImport(Glibc)
    import Glibc
#endif

/// Wall time per analysis stage, and the process's CPU time over it (how well the stage used
/// the cores), printed to standard error when `CCTRACE_PHASES=1` — how `make bench` and a
/// developer see where a report's time goes without a profiler.
public struct PhaseTimer {
    private let enabled = getenv("CCTRACE_PHASES").map { String(cString: $0) == "1" } ?? false
    private var last = PhaseTimer.now()
    private var lastCPU = PhaseTimer.cpu()

    private static func cpu() -> Int64 {
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        return Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
    }

    /// Starts timing now.
    public init() {}

    private static func now() -> Int64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
    }

    /// Peak resident memory so far, MB.
    static func residentMB() -> Int {
        var usage = rusage()
        guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return -1 }
        return usage.ru_maxrss / 1024
    }

    /// Prints the time since the previous mark under `name`.
    public mutating func mark(_ name: String) {
        guard enabled else { return }
        let now = Self.now()
        let tenths = (now - last) / 100_000
        let cpu = Self.cpu()
        let cpuTenths = (cpu - lastCPU) / 100_000
        lastCPU = cpu
        let line = Array(
            "phase \(name) \(tenths / 10).\(tenths % 10) ms, cpu \(cpuTenths / 10).\(cpuTenths % 10) ms, peak rss \(Self.residentMB()) MB\n"
                .utf8)
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        last = Self.now()
    }
}
