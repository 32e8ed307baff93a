import CCTraceFormat

/// No more threads run at once than the machine has cores.
///
/// Running time comes from two sources that can both claim more than the machine had: span
/// time classified as work (a thread inside a span is not necessarily on a CPU — CPython
/// threads spend their spans queueing for the GIL) and CPU readings extrapolated over a
/// thread's first and last span. Wherever the threads' summed running rate R(t) exceeds the
/// cores k, each thread keeps the share k/R(t) of its rate as running and the rest was
/// runnable (it wanted a core and none was free). The result is the capped rate over time,
/// from which the work window's parallelism is read, so parallelism ≤ cores by construction.
struct CPUCapacity: Sendable {
    /// A stretch during which `thread` (an index into the accounted threads) ran at `rate`
    /// cores (a nested slice adds its rate and removes its parent's, so rates can be negative).
    struct Segment: Sendable {
        var thread: Int
        var start: Int64
        var end: Int64
        var rate: Double
    }

    /// Times where the capped total rate changes, and the rate from each until the next.
    private(set) var times: [Int64] = []
    private(set) var rates: [Double] = []
    /// The running time integrated up to each of ``times``.
    private var cumulative: [Double] = []

    /// No running recorded (an accounting not yet capped).
    init() {}

    /// Caps the running of `works` against `cores` and records the capped total rate.
    init(capping works: inout [ThreadWork], segments: [Segment], cores: Int) {
        guard !segments.isEmpty else { return }
        let k = Double(max(cores, 1))
        // Edges 2s and 2s + 1 are segment s's start and end (empty segments have none).
        var kept: [Int] = []
        var keys: [Int64] = []
        kept.reserveCapacity(segments.count)
        keys.reserveCapacity(segments.count * 2)
        for (s, seg) in segments.enumerated() where seg.end > seg.start {
            kept.append(s)
            keys.append(seg.start)
            keys.append(seg.end)
        }
        let (sortedKeys, order) = stableSort(keys)
        // Each edge's signed rate, in edge order (read by edge in the sweep: one lookup, not
        // the segment's through `kept`).
        var edgeRate = [Double](repeating: 0, count: keys.count)
        for (j, s) in kept.enumerated() {
            edgeRate[2 * j] = segments[s].rate
            edgeRate[2 * j + 1] = -segments[s].rate
        }
        // The sweep: after each distinct time, the total rate R; F(t) = ∫ max(0, 1 − k/R) is
        // the share of each thread's running that did not fit, integrated. Each edge's place
        // in `times` is kept for the second pass.
        var overflow: [Double] = []  // F at each of `times`
        var timeIndex = [Int32](repeating: 0, count: keys.count)
        var total = 0.0
        var f = 0.0
        var area = 0.0
        var i = 0
        times.reserveCapacity(keys.count)
        overflow.reserveCapacity(keys.count)
        cumulative.reserveCapacity(keys.count)
        rates.reserveCapacity(keys.count)
        while i < order.count {
            let t = sortedKeys[i]
            if let last = times.last {
                let dt = Double(t - last)
                let r = rates[rates.count - 1]
                let uncapped = max(0, total)
                if uncapped > k { f += dt * (1 - k / uncapped) }
                area += dt * r
            }
            while i < order.count, sortedKeys[i] == t {
                let e = Int(order[i])
                total += edgeRate[e]
                timeIndex[e] = Int32(times.count)
                i += 1
            }
            times.append(t)
            overflow.append(f)
            cumulative.append(area)
            rates.append(min(k, max(0, total)))
        }
        guard f > 0 else { return }
        var excess = [Double](repeating: 0, count: works.count)
        for (j, s) in kept.enumerated() where segments[s].thread < works.count {
            let a = Int(timeIndex[2 * j])
            let b = Int(timeIndex[2 * j + 1])
            excess[segments[s].thread] += segments[s].rate * (overflow[b] - overflow[a])
        }
        for (w, e) in excess.enumerated() where e > 0 {
            let moved = min(works[w].split.running, Int64(e.rounded()))
            works[w].split.running -= moved
            works[w].split.runnable += moved
            works[w].overCapacity = moved
        }
    }

    /// Running time (core-nanoseconds) between `from` and `to`, capped at the cores.
    func running(from: Int64, to: Int64) -> Double {
        guard to > from, !times.isEmpty else { return 0 }
        return integral(at: to) - integral(at: from)
    }

    private func integral(at t: Int64) -> Double {
        // The last change at or before `t`.
        var lo = 0
        var hi = times.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if times[mid] <= t { lo = mid + 1 } else { hi = mid }
        }
        guard lo > 0 else { return 0 }
        let i = lo - 1
        return cumulative[i] + Double(t - times[i]) * rates[i]
    }
}
