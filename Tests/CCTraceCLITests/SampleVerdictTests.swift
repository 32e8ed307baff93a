import Foundation
import Testing

/// End to end: every sample, built in release (as samples/README.md runs them), runs traced;
/// `cctrace report --format json` on its trace must reach the verdict in the samples table.
///
/// Runs alone (`make test` runs it after the other tests) because the verdicts rest on how
/// threads shared the machine's cores: a parallel test hogging a core would skew them.
@Suite(.serialized) struct SampleVerdictTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let bin =
        ProcessInfo.processInfo.environment["CCTRACE_SAMPLES_BIN"]
        ?? root.appendingPathComponent(".build/release").path

    struct Report {
        var json: [String: Any]
        var model: String { (json["recommendation"] as? [String: Any])?["model"] as? String ?? "?" }
        var recommendation: [String: Any] { json["recommendation"] as? [String: Any] ?? [:] }
        var findings: [[String: Any]] { json["findings"] as? [[String: Any]] ?? [] }
        func findings(_ id: String, _ severity: String = "warning") -> [[String: Any]] {
            findings.filter { $0["id"] as? String == id && $0["severity"] as? String == severity }
        }
        var text: String
    }

    /// The models each sample runs with `--model` (samples/README.md): the report of its
    /// default run must predict every one, so `make whatif` (and anyone) can check them.
    static let offeredModels: [String: [String]] = [
        "cpu-global-lock": ["sequential", "threads", "processes"],
        "cpu-threads": ["sequential", "threads", "processes"],
        "cpu-processes": ["sequential", "threads", "processes"],
        "io-threads": ["sequential", "threads", "async"],
        "ipc-heavy": ["sequential", "threads", "processes"],
        "lock-contention": ["sequential", "threads"],
        "blocked-loop": ["async", "hybrid"],
        "swift-tasks": ["async", "hybrid"],
    ]

    /// Runs sample `name` traced and reports on its trace.
    func run(_ name: String) throws -> Report {
        let executable = "\(Self.bin)/\(name)"
        try #require(
            FileManager.default.isExecutableFile(atPath: executable),
            "\(executable) is missing: build the samples first (swift build -c release; make test does)")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sample-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let trace = dir.appendingPathComponent("\(name).trace.json").path
        let sample = Process()
        sample.executableURL = URL(fileURLWithPath: executable)
        sample.environment = ProcessInfo.processInfo.environment.merging(["CCTRACE_OUTPUT": trace]) { $1 }
        sample.standardOutput = FileHandle.nullDevice
        try sample.run()
        sample.waitUntilExit()
        #expect(sample.terminationStatus == 0, "\(name) exited with \(sample.terminationStatus)")
        let report = Process()
        report.executableURL = URL(fileURLWithPath: "\(Self.bin)/cctrace")
        report.arguments = ["report", "--format", "json", trace]
        let out = Pipe()
        report.standardOutput = out
        try report.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        report.waitUntilExit()
        #expect(report.terminationStatus == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        Self.checkInvariants(json, name)
        let rows = (json["recommendation"] as? [String: Any])?["what_if"] as? [[String: Any]] ?? []
        let predicted = Set(rows.compactMap { $0["model"] as? String })
        for model in Self.offeredModels[name] ?? [] {
            #expect(predicted.contains(model), "\(name): no what-if prediction for --model \(model): \(rows)")
        }
        return Report(json: json, text: String(decoding: data, as: UTF8.self))
    }

    /// The analysis invariants, as the JSON report shows them: parallelism within the cores,
    /// the expected speedup within the cores over the parallelism now, each thread's shares
    /// adding up to its life.
    static func checkInvariants(_ json: [String: Any], _ name: String) {
        let work = json["work"] as? [String: Any] ?? [:]
        let rec = json["recommendation"] as? [String: Any] ?? [:]
        let cores = work["cores"] as? Double ?? 0
        let parallelism = work["parallelism"] as? Double ?? .infinity
        #expect(parallelism <= cores + 0.001, "\(name): parallelism \(parallelism) of \(cores) cores")
        let now = rec["current_parallelism"] as? Double ?? 0
        let speedup = rec["expected_speedup"] as? Double ?? 0
        let rows = rec["what_if"] as? [[String: Any]] ?? []
        if let from = rec["expected_speedup_from"] as? String {
            // From the what-if replay: the measured window over that model's prediction, inside
            // the range printed with it (waits that overlap, IPC that goes away can beat the
            // cores' ceiling).
            let row = rows.first { $0["model"] as? String == from }
            let now = rows.first { $0["current"] as? Bool == true }
            let predicted = row?["predicted_ms"] as? Double ?? 0
            let measured = now?["predicted_ms"] as? Double ?? 0
            #expect(predicted > 0 && abs(max(1, measured / predicted) - speedup) <= 0.01 * speedup, "\(name): \(rec)")
            let range = rec["expected_speedup_range"] as? [Double] ?? []
            #expect(range.count == 2 && range[0] - 0.001 <= speedup && speedup <= range[1] + 0.001, "\(name): \(range)")
        } else if now > 0 {
            #expect(speedup <= max(1, cores / now) * 1.001 + 0.001, "\(name): speedup \(speedup)")
        }
        for row in rows {
            let p = row["predicted_ms"] as? Double ?? -1
            let lo = row["low_ms"] as? Double ?? .infinity
            let hi = row["high_ms"] as? Double ?? -1
            #expect(p > 0 && lo <= p && p <= hi, "\(name): what-if row \(row)")
        }
        for t in work["threads"] as? [[String: Any]] ?? [] {
            let parts = ["running_ms", "runnable_ms", "lock_wait_ms", "io_wait_ms", "ipc_ms", "idle_ms"]
            let sum = parts.reduce(0.0) { $0 + (t[$1] as? Double ?? 0) }
            let life = t["life_ms"] as? Double ?? 0
            #expect(abs(sum - life) <= 0.01, "\(name): \(t["label"] ?? "?") shares \(sum) ms, life \(life) ms")
        }
    }

    @Test func cpuGlobalLockMovesToProcesses() throws {
        let r = try run("cpu-global-lock")
        #expect(r.model == "processes", "\(r.recommendation)")
        #expect(!r.findings("cpu-serialized").isEmpty, "\(r.findings)")
    }

    @Test func cpuProcessesKeepsThePool() throws {
        let r = try run("cpu-processes")
        #expect(r.model == "processes", "\(r.recommendation)")
        #expect(r.recommendation["current_model"] as? String == "processes")
        #expect(r.recommendation["change"] as? Bool == false)
        #expect(r.findings("ipc-overhead").isEmpty, "\(r.findings)")
    }

    @Test func cpuThreadsKeepsThreads() throws {
        let r = try run("cpu-threads")
        #expect(r.model == "threads", "\(r.recommendation)")
        #expect(r.recommendation["change"] as? Bool == false)
        #expect(r.findings("cpu-serialized").isEmpty)
    }

    @Test func ioThreadsStaysOnThreads() throws {
        let r = try run("io-threads")
        #expect(r.model == "threads", "\(r.recommendation)")
    }

    @Test func asyncConnectionsIsAsync() throws {
        let r = try run("async-connections")
        #expect(r.model == "async", "\(r.recommendation)")
        let work = try #require(r.json["work"] as? [String: Any])
        #expect((work["max_tasks_in_flight"] as? Int ?? 0) >= 1000)
    }

    @Test func blockedLoopNamesBothHandlers() throws {
        let r = try run("blocked-loop")
        let blocked = r.findings("blocked-event-loop")
        try #require(!blocked.isEmpty, "\(r.findings)")
        let summary = blocked.map { $0["summary"] as? String ?? "" }.joined()
        #expect(summary.contains("renderReport"))
        #expect(summary.contains("loadConfig"))
        #expect(r.model == "hybrid", "\(r.recommendation)")
        // The watchdog caught the loop while it was stuck: the stack names the handler.
        let stacks = blocked.flatMap {
            ($0["evidence"] as? [[String: Any]] ?? []).flatMap { $0["stack"] as? [String] ?? [] }
        }
        #expect(stacks.contains { $0.hasPrefix("blocked_loop.renderReport()") }, "\(stacks)")
    }

    @Test func ipcHeavyWarnsAndAvoidsProcesses() throws {
        let r = try run("ipc-heavy")
        #expect(!r.findings("ipc-overhead").isEmpty, "\(r.findings)")
        #expect(r.model != "processes", "\(r.recommendation)")
    }

    @Test func lockContentionNamesTheSampleFunction() throws {
        let r = try run("lock-contention")
        let contention = r.findings("lock-contention")
        try #require(!contention.isEmpty, "\(r.findings)")
        let stacks = contention.flatMap {
            ($0["evidence"] as? [[String: Any]] ?? []).flatMap { $0["stack"] as? [String] ?? [] }
        }
        #expect(stacks.contains { $0.contains("refreshEntry") }, "\(stacks)")
        #expect(contention.contains { $0["subject"] as? String == "cache" })
    }

    @Test func sequentialStaysSequential() throws {
        let r = try run("sequential")
        #expect(r.model == "sequential", "\(r.recommendation)")
        #expect(r.recommendation["change"] as? Bool == false)
    }

    /// Runs a sample untraced and returns its wall time in seconds, from its own output line
    /// (`… in 1.23 seconds`).
    func wallTime(_ name: String, _ arguments: [String]) throws -> Double {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "\(Self.bin)/\(name)")
        p.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "CCTRACE_OUTPUT")
        p.environment = environment
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        let words = text.split(separator: " ")
        let i = try #require(words.firstIndex(of: "seconds"), "no time in \(text)")
        return try #require(Double(words[i - 1]), "no time in \(text)")
    }

    @Test func swiftTasksNamesTheBlockingCallAndKeepsAsync() throws {
        let r = try run("swift-tasks")
        // Every task it creates (240 requests, 240 `async let` children, the main task), with no
        // tracing code in the program.
        let tasks = (r.json["work"] as? [String: Any])?["task_count"] as? Int ?? 0
        #expect(Double(tasks) >= 0.95 * 481, "tasks \(tasks)")
        let pool = r.findings("blocked-cooperative-pool")
        try #require(!pool.isEmpty, "\(r.findings)")
        let text = pool.map { $0["summary"] as? String ?? "" }.joined()
        #expect(text.contains("legacySDKFetch"), "\(text)")
        #expect(r.model == "async", "\(r.recommendation)")
        #expect(r.recommendation["change"] as? Bool == true)
        #expect((r.recommendation["advice"] as? String ?? "").contains("legacySDKFetch"))
        // The actor every request awaits was busy when they needed it: its queue ran as jobs.
        #expect(
            r.findings.contains {
                $0["id"] as? String == "actor-contention" && ($0["subject"] as? String ?? "").hasPrefix("Cache@0x")
            }, "\(r.findings)")
        // The expected speedup of moving the call off the pool, against the program with it
        // moved (`--fixed`), both measured here: within ±35 % (the estimate cannot price the
        // threads the calls move to).
        let predicted = r.recommendation["expected_speedup"] as? Double ?? 0
        // The best of two interleaved runs each: other suites run beside this one, and a
        // neighbour's burst can only make a run slower.
        var before = Double.infinity
        var after = Double.infinity
        for _ in 0..<2 {
            before = min(before, try wallTime("swift-tasks", []))
            after = min(after, try wallTime("swift-tasks", ["--fixed"]))
        }
        let measured = before / after
        #expect(
            predicted >= measured / 1.35 && predicted <= measured * 1.35,
            "predicted \(predicted)×, measured \(measured)× (\(before) s → \(after) s)")
    }
}
