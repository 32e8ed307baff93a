import CCTraceNative

#if canImport(Glibc)
    import Glibc
#endif

/// Turns recorder clock ticks into `CLOCK_MONOTONIC` nanoseconds.
///
/// With the TSC, the rate is measured against `CLOCK_MONOTONIC` over the whole session (the
/// longer the baseline, the better the rate) and each conversion is anchored at the pair taken
/// at the start of the current drain, so an event is never more than one flush interval from
/// its anchor: at a rate error of 1e-6 that is 0.1 µs. All processes convert to the same
/// monotonic clock, so their timelines agree.
struct ClockCalibration {
    let usesTSC: Bool
    private let origin: (ticks: UInt64, ns: Int64)
    private var anchor: (ticks: UInt64, ns: Int64)
    private var nsPerTick: Double

    /// The name written to the session metadata.
    var name: String { usesTSC ? "tsc→CLOCK_MONOTONIC" : "CLOCK_MONOTONIC" }

    init(choice: TraceConfiguration.ClockChoice) {
        switch choice {
        case .tsc: usesTSC = true
        case .monotonic: usesTSC = false
        default: usesTSC = Self.tscIsTrustworthy()
        }
        let start: (ticks: UInt64, ns: Int64) = usesTSC ? Self.pair() : (0, 0)
        origin = start
        anchor = start
        nsPerTick = 1
        if usesTSC {
            // A first estimate over ~2 ms; refined by every drain.
            var now = Self.pair()
            while now.ns - start.ns < 2_000_000 { now = Self.pair() }
            nsPerTick = Double(now.ns - start.ns) / Double(now.ticks &- start.ticks)
        }
    }

    /// Ticks per nanosecond (1 on CLOCK_MONOTONIC), for code that dates events ahead of time.
    var ticksPerNanosecond: Double { usesTSC ? 1 / nsPerTick : 1 }

    /// Re-anchors at the current time and refines the rate. Call before converting the events
    /// of a drain. Async-signal-safe.
    mutating func recalibrate() {
        guard usesTSC else { return }
        let now = Self.pair()
        let elapsed = now.ticks &- origin.ticks
        if elapsed > 1_000_000 { nsPerTick = Double(now.ns - origin.ns) / Double(elapsed) }
        anchor = now
    }

    /// Nanoseconds on `CLOCK_MONOTONIC` for a tick value.
    @inline(__always)
    func nanoseconds(_ ticks: UInt64) -> Int64 {
        guard usesTSC else { return Int64(bitPattern: ticks) }
        let delta = Int64(bitPattern: ticks &- anchor.ticks)
        // Rounded to nearest by a truncating conversion (one instruction; `rounded()` is a libm
        // call, 3 % of the writer's time).
        let x = Double(delta) * nsPerTick
        return anchor.ns + Int64(x + (x < 0 ? -0.5 : 0.5))
    }

    /// A (TSC, monotonic) pair taken as close together as possible.
    private static func pair() -> (ticks: UInt64, ns: Int64) {
        var best: (ticks: UInt64, ns: Int64) = (0, 0)
        var bestGap = UInt64.max
        for _ in 0..<5 {
            let t0 = cctrace_rdtsc()
            let ns = cctrace_monotonic_ns()
            let t1 = cctrace_rdtsc()
            if t1 &- t0 < bestGap {
                bestGap = t1 &- t0
                best = (t0 &+ (t1 &- t0) / 2, Int64(ns))
            }
        }
        return best
    }

    /// The TSC is used only where the kernel itself relies on it: an invariant TSC
    /// (`constant_tsc` and `nonstop_tsc`) that is the current clocksource.
    private static func tscIsTrustworthy() -> Bool {
        #if arch(x86_64)
            guard
                let source = readSmallFile("/sys/devices/system/clocksource/clocksource0/current_clocksource"),
                source.hasPrefix("tsc")
            else { return false }
            guard let cpuinfo = readSmallFile("/proc/cpuinfo", limit: 1 << 16) else { return false }
            return cpuinfo.contains(" constant_tsc") && cpuinfo.contains(" nonstop_tsc")
        #else
            return false
        #endif
    }
}

/// The first `limit` bytes of a (proc/sys) file, or `nil` when it cannot be read.
func readSmallFile(_ path: String, limit: Int = 4096) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes = [UInt8](repeating: 0, count: limit)
    var total = 0
    while total < limit {
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + total, limit - total) }
        if n <= 0 { break }
        total += n
    }
    return String(decoding: bytes[..<total], as: UTF8.self)
}
