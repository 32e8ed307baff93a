import CCTrace
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The cost of tracing Swift Concurrency with no code: a task that yields again and again makes
/// one job of Swift's global executor per yield (enqueue, Dispatch, run). Timed without a
/// session (no hook installed) and with one (the runtime hooks record every job), the
/// difference per job is what zero-code task tracing costs: the hook, the runner around the
/// job and its two records.
enum TaskBenchmark {
    static let jobsPerRound = 200_000
    static let rounds = 7

    static func run() {
        let directory = RecordBenchmark.temporaryDirectory()
        defer { _ = rmdir(directory) }
        var plain = Double.infinity
        var traced = Double.infinity
        var recorded = 0
        for round in 0..<rounds {
            plain = min(plain, yieldRound())
            let path = "\(directory)/tasks-\(round).json"
            traced = min(
                traced,
                RecordBenchmark.withSession(path: path, clock: .automatic) { yieldRound() })
            recorded = max(recorded, countJobs(path))
            unlink(path)
        }
        print("job (enqueue + run), untraced: \(RecordBenchmark.format(plain)) ns")
        print("job (enqueue + run), traced by the runtime hooks: \(RecordBenchmark.format(traced)) ns")
        print("job tracing cost: \(RecordBenchmark.format(traced - plain)) ns per job")
        print("jobs recorded in a traced round: \(recorded) of \(jobsPerRound)+")
    }

    /// Nanoseconds per job of one task yielding `jobsPerRound` times.
    static func yieldRound() -> Double {
        let done = Atomic<Int64>(0)
        let started = clockNanoseconds()
        Task.detached {
            for _ in 0..<jobsPerRound { await Task.yield() }
            done.store(clockNanoseconds(), ordering: .releasing)
        }
        while done.load(ordering: .acquiring) == 0 { usleep(200) }
        return Double(done.load(ordering: .acquiring) - started) / Double(jobsPerRound)
    }

    /// Job slices in a trace (lines with a `task_id`), to show the traced rounds were traced.
    static func countJobs(_ path: String) -> Int {
        guard let f = fopen(path, "r") else { return 0 }
        defer { fclose(f) }
        var count = 0
        var line: UnsafeMutablePointer<CChar>? = nil
        var capacity = 0
        while getline(&line, &capacity, f) > 0 {
            if let l = line, strstr(l, "\"task_id\"") != nil { count += 1 }
        }
        free(line)
        return count
    }

    static func clockNanoseconds() -> Int64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
    }
}
