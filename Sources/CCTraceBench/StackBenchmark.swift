import CCTrace
import CCTraceAnalysis
import CCTraceFormat
import CCTraceUnwind

#if canImport(Glibc)
    import Glibc
#endif

/// `cctrace-bench stacks`: what a stack costs — one capture at a known depth, one profiler
/// sample (in the signal handler, as the sampled thread pays it), and the slowdown of a
/// CPU-bound loop sampled at 100 Hz against the same loop unsampled, in one run.
enum StackBenchmark {
    static func run() {
        guard cctrace_unwind_load() == 1 else {
            print("libunwind is not available (install libunwind-dev)")
            exit(1)
        }
        let capture10 = captureCost(depth: 10)
        let capture30 = captureCost(depth: 30)
        print("stack_capture_ns_10_frames: \(RecordBenchmark.format(capture10)) ns")
        print("stack_capture_ns_30_frames: \(RecordBenchmark.format(capture30)) ns")

        // The slowdown: the same fixed CPU work, unsampled and sampled at 100 Hz, interleaved.
        let directory = RecordBenchmark.temporaryDirectory()
        let path = directory + "/stacks.trace.json"
        var plain = Double.infinity
        var sampled = Double.infinity
        for round in 0..<5 {
            plain = min(plain, cpuWork())
            var configuration = TraceConfiguration(outputPath: path)
            configuration.sampleFrequency = 100
            configuration.cpuSampleInterval = nil
            try! CCTrace.start(configuration)
            sampled = min(sampled, cpuWork())
            CCTrace.stop()
            if round < 4 { unlink(path) }
        }
        // What each sample cost the sampled thread (the handler measures itself).
        var costs: [Double] = []
        if let model = try? TraceImporter.importTrace(path: path) {
            for i in model.instants where i.category == "cctrace.sample" && i.name == "sample" {
                if let cost = i.args.flatMap({ model.arguments.value($0) })?["cost_ns"]?.doubleValue {
                    costs.append(cost)
                }
            }
        }
        unlink(path)
        rmdir(directory)
        costs.sort()
        let median = costs.isEmpty ? 0 : costs[costs.count / 2]
        let mean = costs.isEmpty ? 0 : costs.reduce(0, +) / Double(costs.count)
        print("samples_in_last_round: \(costs.count)")
        print("sample_cost_us_median: \(RecordBenchmark.format(median / 1000)) us")
        print("sample_cost_us_mean: \(RecordBenchmark.format(mean / 1000)) us")
        print("cpu_loop_unsampled_ms: \(RecordBenchmark.format(plain / 1e6)) ms")
        print("cpu_loop_sampled_100hz_ms: \(RecordBenchmark.format(sampled / 1e6)) ms")
        print("sampling_100hz_slowdown: \(RecordBenchmark.format((sampled / plain - 1) * 100)) %")
    }

    /// Nanoseconds per `cctrace_backtrace` of a stack `depth` frames deep (best of 7 rounds).
    static func captureCost(depth: Int) -> Double {
        RecordBenchmark.best { descend(depth - 1) }
    }

    /// Recurses `remaining` more frames, then times 20,000 captures there.
    @inline(never)
    static func descend(_ remaining: Int) -> Double {
        if remaining > 0 {
            let r = descend(remaining - 1)
            blackHole(remaining)
            return r
        }
        let count = 20_000
        var frames = [UnsafeMutableRawPointer?](repeating: nil, count: 64)
        let start = monotonicNanoseconds()
        var total: Int32 = 0
        frames.withUnsafeMutableBufferPointer { buffer in
            for _ in 0..<count { total &+= cctrace_backtrace(buffer.baseAddress, 64) }
        }
        blackHole(total)
        return Double(monotonicNanoseconds() - start) / Double(count)
    }

    /// A fixed amount of CPU work (~0.5 s here); returns its wall time in nanoseconds.
    @inline(never)
    static func cpuWork() -> Double {
        let start = monotonicNanoseconds()
        var x: UInt64 = 1
        for i in 0..<400_000_000 {
            x ^= x >> 33
            x &*= 0xff51_afd7_ed55_8ccd
            x ^= UInt64(truncatingIfNeeded: i)
        }
        if x == 42 { print("unlikely") }
        return Double(monotonicNanoseconds() - start)
    }

    static func monotonicNanoseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}
