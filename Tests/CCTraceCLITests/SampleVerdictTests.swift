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
        return Report(json: json, text: String(decoding: data, as: UTF8.self))
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
}
