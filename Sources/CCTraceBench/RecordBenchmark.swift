import CCTrace
import CCTraceNative
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// `cctrace-bench record`: the cost of recording, against the physical floor.
enum RecordBenchmark {
    static let spansPerRound = 1_000_000
    static let rounds = 7

    static func run() {
        let disabled = best { spanRound() }
        // The session's clock (the TSC where trusted) for the headline figures.
        let (floor, floorStreaming, span, warm, two) = withSession(path: "/dev/null", clock: .automatic) {
            (
                best { floorRound(bufferEvents: 1 << 16) }, best { floorRound(bufferEvents: 1 << 21) },
                best { spanRound() }, best { warmSpanRound() }, best { twoThreadRound() }
            )
        }
        let clock = cctrace_clock_is_tsc() ? "tsc" : "monotonic"
        // The same with clock_gettime(CLOCK_MONOTONIC), the fallback clock.
        let (floorMono, spanMono) = withSession(path: "/dev/null", clock: .monotonic) {
            (best { floorRound(bufferEvents: 1 << 16) }, best { spanRound() })
        }
        let ipcPlain = best { ipcRound() }
        let ipcTraced = withSession(path: "/dev/null", clock: .automatic) { best { ipcRound() } }
        let plainMutex = best { plainMutexRound() }
        let tracedMutex = withSession(path: "/dev/null", clock: .automatic) { best { tracedMutexRound() } }
        let directory = temporaryDirectory()
        let written = writerThroughput(path: directory + "/writer.trace.json")
        let writtenBytes = bytesPerEvent(directory + "/writer.trace.json")
        unlink(directory + "/writer.trace.json")
        // The flight recorder: the same spans, formatted into the in-memory ring.
        let ringSpan = withSession(path: directory + "/ring.trace.json", clock: .automatic, ring: true) {
            best { warmSpanRound() }
        }
        let ringWritten = writerThroughput(path: directory + "/ring.trace.json", ring: true)
        rmdir(directory)
        print("clock: \(clock)")
        print("floor_ns: \(format(floor)) ns")
        print("span_ns: \(format(warm)) ns")
        print("span_over_floor: \(format(warm / floor)) x")
        print("floor_streaming_ns: \(format(floorStreaming)) ns")
        print("span_streaming_ns: \(format(span)) ns")
        print("span_streaming_over_floor_streaming: \(format(span / floorStreaming)) x")
        print("disabled_ns: \(format(disabled)) ns")
        print("span_2threads_ns: \(format(two)) ns")
        print("floor_monotonic_ns: \(format(floorMono)) ns")
        print("span_monotonic_ns: \(format(spanMono)) ns")
        print("events_per_s_written: \(Int(written)) events/s")
        print("span_ring_ns: \(format(ringSpan)) ns")
        print("span_ring_over_stream: \(format(ringSpan / warm)) x")
        print("events_per_s_ring: \(Int(ringWritten)) events/s")
        print("ipc_message_untraced_ns: \(format(ipcPlain)) ns")
        print("ipc_record_overhead_ns: \(format(ipcTraced - ipcPlain)) ns")
        print("mutex_plain_ns: \(format(plainMutex)) ns")
        print("mutex_traced_uncontended_ns: \(format(tracedMutex)) ns")
        print("mutex_traced_over_plain: \(format(tracedMutex / plainMutex)) x")
        print("bytes_per_event: \(format(writtenBytes)) B")
        printSustained(directory: temporaryDirectory())
    }

    /// Two reads of the recorder's clock (as the running session set it) and one 32-byte store
    /// into a per-thread buffer of `bufferEvents` events: 2 MiB stays in cache (the floor);
    /// 64 MiB streams through memory as a 1M-span burst does when the writer cannot keep up.
    @inline(never)
    static func floorRound(bufferEvents: Int) -> Double {
        let capacity = bufferEvents
        let buffer = UnsafeMutablePointer<cctrace_event>.allocate(capacity: capacity)
        defer { buffer.deallocate() }
        let name: StaticString = "floor"
        let t0 = cctrace_monotonic_ns()
        for i in 0..<spansPerRound {
            let begin = cctrace_now()
            let end = cctrace_now()
            buffer[i & (capacity - 1)] = cctrace_event(
                ts: begin, end: end, name: UInt64(UInt(bitPattern: name.utf8Start)), aux: 0, name_len: 5, kind: 1,
                flags: 0)
        }
        let t1 = cctrace_monotonic_ns()
        blackHole(buffer[Int(t1) & (capacity - 1)].ts)
        return Double(t1 - t0) / Double(spansPerRound)
    }

    /// `withSpan` with an empty body, `spansPerRound` times.
    @inline(never)
    static func spanRound() -> Double {
        let t0 = cctrace_monotonic_ns()
        for _ in 0..<spansPerRound {
            CCTrace.withSpan("bench.span") {}
        }
        let t1 = cctrace_monotonic_ns()
        return Double(t1 - t0) / Double(spansPerRound)
    }

    /// `withSpan` in bursts of 16k spans (512 KiB of events) with the writer draining between
    /// bursts, so the buffers stay in cache as they do when an app records in bursts; only the
    /// bursts are timed.
    @inline(never)
    static func warmSpanRound() -> Double {
        let burst = 16_384
        var elapsed: UInt64 = 0
        for _ in 0..<(spansPerRound / burst) {
            CCTrace.flush()
            let t0 = cctrace_monotonic_ns()
            for _ in 0..<burst {
                CCTrace.withSpan("bench.span") {}
            }
            elapsed += cctrace_monotonic_ns() - t0
        }
        return Double(elapsed) / Double(spansPerRound / burst * burst)
    }

    /// One 64-byte message sent and received through a TracedChannel over pipes, on one
    /// thread; with and without a session the difference is what recording adds per message
    /// (a send and a receive span, a flow start and end).
    static func ipcRound() -> Double {
        let (channel, remote) = try! TracedChannel.pipePair(name: "bench")
        defer {
            channel.close()
            close(remote.writeFD)
            close(remote.readFD)
        }
        let messages = 50_000
        let payload = [UInt8](repeating: 7, count: 64)
        // The channel writes to `remote.readFD`'s pipe; read it back through a channel on that end.
        let reader = TracedChannel(name: "bench", readFD: remote.readFD, writeFD: remote.writeFD)
        let t0 = cctrace_monotonic_ns()
        for _ in 0..<messages {
            try! channel.send(payload)
            blackHole(try! reader.receive())
        }
        let t1 = cctrace_monotonic_ns()
        return Double(t1 - t0) / Double(messages)
    }

    /// `Synchronization.Mutex.withLock` around an increment, uncontended.
    @inline(never)
    static func plainMutexRound() -> Double {
        let mutex = Mutex(0)
        let t0 = cctrace_monotonic_ns()
        for _ in 0..<spansPerRound { mutex.withLock { $0 &+= 1 } }
        let t1 = cctrace_monotonic_ns()
        blackHole(mutex.withLock { $0 })
        return Double(t1 - t0) / Double(spansPerRound)
    }

    /// `TracedMutex.withLock` around an increment, uncontended, with a session recording.
    @inline(never)
    static func tracedMutexRound() -> Double {
        let mutex = TracedMutex(0, name: "bench")
        let t0 = cctrace_monotonic_ns()
        for _ in 0..<spansPerRound { mutex.withLock { $0 &+= 1 } }
        let t1 = cctrace_monotonic_ns()
        blackHole(mutex.withLock { $0 })
        return Double(t1 - t0) / Double(spansPerRound)
    }

    /// Per-span cost while two threads record at once.
    static func twoThreadRound() -> Double {
        let results = ResultSlots(count: 2)
        let threads = (0..<2).map { i in spawnThread { results.set(i, spanRound()) } }
        for t in threads { pthread_join(t, nil) }
        return (results.get(0) + results.get(1)) / 2
    }

    /// Sustained recording: one thread records spans at a paced `rate` (spans/s) for
    /// `seconds` while the background writer drains to a real file with the default
    /// configuration (flush every 100 ms, 128 MiB of buffers). Events written per second from
    /// the first span until `stop` has written the last, and events dropped.
    static func sustained(rate: Double, seconds: Double, path: String) -> (perSecond: Double, dropped: UInt64) {
        try! CCTrace.start(TraceConfiguration(outputPath: path))
        let total = Int(rate * seconds)
        let t0 = cctrace_monotonic_ns()
        paced(total: total, rate: rate, from: t0)
        CCTrace.stop()
        let t1 = cctrace_monotonic_ns()
        let totals = CCTrace.lastSessionTotals
        return (Double(total) / (Double(t1 - t0) / 1e9), totals.dropped)
    }

    @inline(never)
    static func paced(total: Int, rate: Double, from t0: UInt64) {
        var done = 0
        while done < total {
            let batch = min(4096, total - done)
            for _ in 0..<batch { CCTrace.withSpan("bench.sustained") {} }
            done += batch
            // Ahead of the schedule: wait for it (spinning, as a busy producer would).
            let due = t0 + UInt64(Double(done) / rate * 1e9)
            while cctrace_monotonic_ns() < due {}
        }
    }

    /// The writer's figures alone (for profiling it): formatting throughput into a file.
    static func runWriter() {
        let directory = temporaryDirectory()
        let path = directory + "/writer.trace.json"
        let rate = best { 1e9 / writerThroughput(path: path) }
        let bytes = bytesPerEvent(path)
        unlink(path)
        rmdir(directory)
        print("events_per_s_written: \(Int(1e9 / rate)) events/s")
        print("bytes_per_event: \(format(bytes)) B")
        printSustained(directory: temporaryDirectory())
    }

    /// The size of the trace `writerThroughput` wrote at `path`, per span it recorded.
    static func bytesPerEvent(_ path: String) -> Double {
        var st = stat()
        return stat(path, &st) == 0 ? Double(st.st_size) / Double(2 * spansPerRound) : 0
    }

    /// Sustained recording at 10 M events/s and up (2 s each, one recording thread, the
    /// default configuration, a real file): events dropped at each rate, and the highest rate
    /// with none. `written_per_s` counts from the first span to the last event on disk (the
    /// stop's final drain included).
    static func printSustained(directory: String) {
        let path =
            getenv("CCTRACE_BENCH_SUSTAINED_PATH").map { String(cString: $0) } ?? directory + "/sustained.trace.json"
        var best = 0.0
        for rate in [10e6, 12.5e6, 15e6, 20e6] {
            let (perSecond, dropped) = sustained(rate: rate, seconds: 2, path: path)
            unlink(path)
            print(
                "sustained_at_\(format(rate / 1e6))M_per_s: \(dropped) dropped, written_per_s \(Int(perSecond))")
            if dropped > 0 { break }
            best = rate
        }
        print("sustained_events_per_s: \(Int(best)) events/s with 0 dropped")
        rmdir(directory)
    }

    /// Events per second the writer formats and writes to a real file: records spans with the
    /// writer asleep, then times the final drain in `stop()`.
    static func writerThroughput(path: String, ring: Bool = false) -> Double {
        var configuration = TraceConfiguration(outputPath: path)
        if ring { configuration.ring = TraceConfiguration.Ring() }
        configuration.flushInterval = .seconds(3600)
        configuration.cpuSampleInterval = nil
        configuration.bufferLimit = 256 << 20
        try! CCTrace.start(configuration)
        for _ in 0..<2 { _ = spanRound() }
        let t0 = cctrace_monotonic_ns()
        CCTrace.stop()
        let t1 = cctrace_monotonic_ns()
        return Double(2 * spansPerRound) / (Double(t1 - t0) / 1e9)
    }

    static func withSession<R>(
        path: String, clock: TraceConfiguration.ClockChoice, ring: Bool = false, _ body: () -> R
    ) -> R {
        var configuration = TraceConfiguration(outputPath: path)
        if ring { configuration.ring = TraceConfiguration.Ring() }
        configuration.clock = clock
        if let ms = getenv("CCTRACE_BENCH_FLUSH_MS").flatMap({ Int(String(cString: $0)) }) {
            configuration.flushInterval = .milliseconds(ms)
        }
        configuration.bufferLimit = 1 << 30
        configuration.cpuSampleInterval = nil
        try! CCTrace.start(configuration)
        defer { CCTrace.stop() }
        return body()
    }

    static func best(_ round: () -> Double) -> Double {
        var result = Double.infinity
        for _ in 0..<rounds {
            let r = round()
            if getenv("CCTRACE_BENCH_VERBOSE") != nil { print("  round: \(format(r)) ns") }
            result = min(result, r)
        }
        return result
    }

    static func format(_ value: Double) -> String {
        let scaled = (value * 10).rounded() / 10
        return String(scaled)
    }

    static func temporaryDirectory() -> String {
        var template = Array("/tmp/cctrace-bench-XXXXXX".utf8CString)
        return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }
}

@inline(never)
func blackHole<T>(_ value: T) {
    withUnsafePointer(to: value) { _ = $0 }
}

/// Per-thread result cells, each written by one thread before it is joined.
final class ResultSlots: @unchecked Sendable {
    private let values: UnsafeMutablePointer<Double>
    init(count: Int) {
        values = .allocate(capacity: count)
        values.initialize(repeating: 0, count: count)
    }
    deinit { values.deallocate() }
    func set(_ i: Int, _ v: Double) { values[i] = v }
    func get(_ i: Int) -> Double { values[i] }
}

private final class ThreadBody {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}

/// Starts a pthread running `body`.
func spawnThread(_ body: @escaping @Sendable () -> Void) -> pthread_t {
    var t = pthread_t()
    let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    pthread_create(
        &t, nil,
        {
            Unmanaged<ThreadBody>.fromOpaque($0!).takeRetainedValue().body(); return nil
        }, box)
    return t
}
