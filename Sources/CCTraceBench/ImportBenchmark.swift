import CCTraceAnalysis
import CCTraceFormat
import CCTraceNative

#if canImport(Glibc)
    import Glibc
#endif

/// `cctrace-bench import FILE`: how fast a trace becomes a model, and the memory it takes.
enum ImportBenchmark {
    static func run(path: String) {
        var st = stat()
        guard stat(path, &st) == 0 else {
            print("cctrace-bench: cannot stat \(path)")
            exit(2)
        }
        let bytes = Double(st.st_size)
        if getenv("CCTRACE_BENCH_READ_ONLY") != nil {
            let r0 = cctrace_monotonic_ns()
            var n = 0
            let reader = try! TraceReader(path: path)
            try! reader.read { _ in n += 1 }
            print("read_only_s: \(Double(cctrace_monotonic_ns() - r0) / 1e9) s (\(n) events)")
        }
        let t0 = cctrace_monotonic_ns()
        let model: TraceModel
        do {
            model = try TraceImporter.importTrace(path: path)
        } catch {
            print("cctrace-bench: \(error)")
            exit(2)
        }
        let seconds = Double(cctrace_monotonic_ns() - t0) / 1e9
        print("import_s: \((seconds * 1000).rounded() / 1000) s")
        print("mb_per_s: \(Int(bytes / 1e6 / seconds)) MB/s")
        print("events_per_s: \(Int(Double(model.eventCount) / seconds)) events/s")
        print("peak_rss_mb: \(peakResidentMegabytes()) MB")
        print("events: \(model.eventCount)")
        print("slices: \(model.slices.count)")
        withExtendedLifetime(model) {}
    }

    /// VmHWM from /proc/self/status.
    static func peakResidentMegabytes() -> Int {
        guard let f = fopen("/proc/self/status", "r") else { return -1 }
        defer { fclose(f) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, 256, f) != nil {
            let s = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if s.hasPrefix("VmHWM:") {
                let kb = s.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Int($0) }
                return (kb ?? 0) / 1024
            }
        }
        return -1
    }
}
