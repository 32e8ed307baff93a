import Foundation
import Testing

/// Runs the built `cctrace` binary.
func cctrace(_ arguments: [String], stdin: String? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
    var dir = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    while dir.path != "/" && !FileManager.default.fileExists(atPath: dir.appendingPathComponent("cctrace").path) {
        dir = dir.deletingLastPathComponent()
    }
    let process = Process()
    process.executableURL = dir.appendingPathComponent("cctrace")
    process.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    let input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try input.fileHandleForWriting.close()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

func writeTemporary(_ text: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID().uuidString).json").path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

@Suite struct ReportCommandTests {
    @Test func reportsATraceAsTextAndJSON() throws {
        let path = try writeTemporary(
            #"[{"ph":"X","name":"work","ts":0,"dur":1500,"pid":3,"tid":4},{"ph":"M","name":"thread_name","pid":3,"tid":4,"args":{"name":"w"}}]"#
        )
        let text = try cctrace(["report", path])
        #expect(text.status == 0)
        #expect(text.stdout.contains("work"))
        #expect(text.stdout.contains("w (4)"))
        let json = try cctrace(["report", "--format", "json", path])
        #expect(json.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(object?["schema_version"] as? Int == 4)
        #expect((object?["recommendation"] as? [String: Any])?["model"] is String)
        #expect(object?["event_count"] as? Int == 2)
    }

    @Test func readsStandardInput() throws {
        let result = try cctrace(["report", "-"], stdin: #"[{"ph":"X","name":"piped","ts":0,"dur":1,"pid":1,"tid":1}"#)
        #expect(result.status == 0)
        #expect(result.stdout.contains("piped"))
        #expect(result.stdout.contains("truncated-file"))
    }

    @Test(arguments: ["not json at all", "{\"a\":1}", ""])
    func unreadableInputIsOneLineAndExitTwo(_ text: String) throws {
        let path = try writeTemporary(text)
        let result = try cctrace(["report", path])
        #expect(result.status == 2)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(lines.first?.contains(path) == true)
        #expect(result.stdout.isEmpty)
    }

    @Test func missingFileIsExitTwo() throws {
        let result = try cctrace(["report", "/nonexistent/trace.json"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("/nonexistent/trace.json"))
    }

    /// A trace whose lock made threads wait: `--fail-on lock-contention` turns the finding
    /// into exit status 3; a gate at a severity the finding does not reach passes.
    @Test func failOnGatesOnFindings() throws {
        var events: [String] = []
        for t in 2...3 {
            for i in 0..<5 {
                let ts = i * 10_000 + t * 100
                events.append(#"{"ph":"X","name":"update","ts":\#(ts),"dur":9000,"pid":1,"tid":\#(t)}"#)
                events.append(
                    #"{"ph":"X","name":"lock wait","cat":"cctrace.lock","ts":\#(ts + 10),"dur":8000,"pid":1,"tid":\#(t),"args":{"lock":"db","lock_id":1}}"#
                )
            }
        }
        let path = try writeTemporary("[" + events.joined(separator: ",\n") + "]")
        let gated = try cctrace(["report", "--fail-on", "lock-contention", path])
        #expect(gated.status == 3)
        #expect(gated.stdout.contains("lock-contention"))
        #expect(gated.stderr.contains("--fail-on lock-contention"))
        let other = try cctrace(["report", "--fail-on", "blocked-event-loop", "--fail-on", "ipc-overhead:info", path])
        #expect(other.status == 0)
        let info = try cctrace(["report", "--fail-on", "lock-contention:info", "--format", "json", path])
        #expect(info.status == 3)
    }

    @Test(arguments: [["--fail-on", "nonsense"], ["--fail-on", "lock-contention:fatal"], ["--format", "yaml"]])
    func badOptionsAreRejected(_ options: [String]) throws {
        let path = try writeTemporary(#"[{"ph":"X","name":"w","ts":0,"dur":1,"pid":1,"tid":1}]"#)
        let result = try cctrace(["report"] + options + [path])
        #expect(result.status != 0 && result.status != 3)
        #expect(result.stderr.contains("Error"))
    }

    @Test func markdownFormat() throws {
        let path = try writeTemporary(#"[{"ph":"X","name":"w","ts":0,"dur":1000,"pid":1,"tid":1}]"#)
        let result = try cctrace(["report", "--format", "markdown", path])
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("## cctrace report"))
        #expect(result.stdout.contains("| severity | finding | summary |"))
        #expect(!result.stdout.contains("\u{1B}["))
    }

    /// Recorded stacks get file:line from the images' debug info when llvm-symbolizer is
    /// installed (this machine's toolchain has it); `--no-source-lines` skips the lookup.
    @Test func stacksGetSourceLines() throws {
        var dir = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        while dir.path != "/" && !FileManager.default.fileExists(atPath: dir.appendingPathComponent("cctrace").path) {
            dir = dir.deletingLastPathComponent()
        }
        let trace = FileManager.default.temporaryDirectory.appendingPathComponent("lines-\(UUID().uuidString).json")
            .path
        let sample = Process()
        sample.executableURL = dir.appendingPathComponent("lock-contention")
        sample.environment = ["CCTRACE_OUTPUT": trace]
        sample.standardOutput = FileHandle.nullDevice
        try sample.run()
        sample.waitUntilExit()
        let with = try cctrace(["report", "--format", "json", trace])
        let without = try cctrace(["report", "--format", "json", "--no-source-lines", trace])
        #expect(with.status == 0 && without.status == 0)
        let hasSymbolizer =
            FileManager.default.isExecutableFile(atPath: "/opt/swift/usr/bin/llvm-symbolizer")
            || FileManager.default.isExecutableFile(atPath: "/usr/bin/llvm-symbolizer")
        if hasSymbolizer { #expect(with.stdout.contains("refreshEntry(Swift.Int) -> Swift.UInt64 at main.swift:")) }
        #expect(!without.stdout.contains("at main.swift:"))
        #expect(without.stdout.contains("refreshEntry"))
    }
}

extension ReportCommandTests {
    /// A blocking call in a helper the compiler inlined into an async closure names the helper:
    /// the symbolizer's inline chain (a stand-in script here, printing what llvm-symbolizer
    /// prints for such a frame) replaces the closure's name with the inlined function's.
    @Test func inlinedBlockingHelperIsNamed() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("inl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let script = dir.appendingPathComponent("llvm-symbolizer").path
        try """
        #!/bin/sh
        for a in "$@"; do case "$a" in --*) ;; *)
          printf '%s\\n%s\\n%s\\n%s\\n\\n' '$s3App5StoreC5writeySiSaySiGF' '/src/main.swift:18:16' \\
            '$s3App5StoreC5writeySiSaySiGF' '/src/main.swift:40:9';;
        esac; done
        """.write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        var events = [
            #"{"ph":"M","name":"cctrace.session","cat":"cctrace.session","pid":1,"tid":1,"args":{"cores":2}}"#
        ]
        for tid in [2, 3] {
            events.append(
                #"{"ph":"M","name":"thread_name","pid":1,"tid":\#(tid),"args":{"name":"swift-pool-\#(tid)"}}"#)
            for i in 0..<20 {
                let ts = 1_000 + i * 15_000
                events.append(
                    #"{"ph":"X","name":"closure #1 in run()","cat":"cctrace.task","pid":1,"tid":\#(tid),"ts":\#(ts),"dur":15000,"args":{"task_id":\#(tid * 100 + i),"queued_us":5000}}"#
                )
                events.append(
                    #"{"ph":"i","s":"t","cat":"cctrace.sample","name":"loop stall","pid":1,"tid":\#(tid),"ts":\#(ts + 6000),"args":{"kind":"watchdog","loop":"swift-pool","frames":["clock_nanosleep (blocked in the kernel)","usleep + 0x45 (libc.so.6)","closure #1 in run() + 0x24 (true)"],"locations":["?","/nonexistent/libc.so.6+0xff294","/bin/true+0x10"]}}"#
                )
            }
            for t in stride(from: 0, through: 320_000, by: 20_000) {
                events.append(
                    #"{"ph":"C","name":"cpu \#(tid)","cat":"cctrace.cpu","pid":1,"tid":\#(tid),"ts":\#(t),"args":{"running_pct":5,"runnable_pct":0}}"#
                )
            }
        }
        let trace = try writeTemporary("[" + events.joined(separator: ",\n") + "]")
        let process = Process()
        var here = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        while here.path != "/" && !FileManager.default.fileExists(atPath: here.appendingPathComponent("cctrace").path) {
            here = here.deletingLastPathComponent()
        }
        process.executableURL = here.appendingPathComponent("cctrace")
        process.arguments = ["report", trace]
        process.environment = ProcessInfo.processInfo.environment.merging(["CCTRACE_SYMBOLIZER": script]) { $1 }
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(text.contains("blocked-cooperative-pool"), "\(text)")
        #expect(text.contains("'App.Store.write(Swift.Array<Swift.Int>) -> Swift.Int at main.swift:18'"), "\(text)")
    }
}

@Suite struct AnalysisOptionsCommandTests {
    /// A file with nothing to analyze is an error naming the file, with the diagnostics that
    /// say why — not a verdict.
    @Test(arguments: [
        "[]", #"{"traceEvents":[{"ph":"Q"}]}"#, #"[{"ph":"M","name":"process_name","pid":1,"args":{"name":"p"}}]"#,
    ])
    func noEventsIsExitTwo(_ text: String) throws {
        let path = try writeTemporary(text)
        for command in ["report", "view"] {
            let r = try cctrace(
                command == "view" ? ["view", "--no-open", "--html", path + ".html", path] : [command, path])
            #expect(r.status == 2, "\(command): \(r.stdout)")
            #expect(r.stderr.hasPrefix("cctrace: error: \(path): no events"), "\(r.stderr)")
        }
        let unknown = try cctrace(["report", try writeTemporary(#"{"traceEvents":[{"ph":"Q","ts":1}]}"#)])
        #expect(unknown.stderr.contains("unknown-phase"), "\(unknown.stderr)")
    }

    /// A gzip cut off right after its header holds no events either.
    @Test func gzipCutAfterItsHeader() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cut-\(UUID().uuidString).json.gz")
        // A gzip member header (magic, deflate, no flags, mtime, xfl, OS) and nothing else.
        let header: [UInt8] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]
        try Data(header).write(to: path)
        let r = try cctrace(["report", path.path])
        #expect(r.status == 2)
        #expect(r.stderr.hasPrefix("cctrace: error: \(path.path)"), "\(r.stderr)")
        #expect(r.stderr.contains("no events"), "\(r.stderr)")
    }

    /// `--cores` is used when the trace does not say, and the report says it was given;
    /// without it this machine's count is marked assumed.
    @Test func coresOption() throws {
        let path = try writeTemporary(
            #"[{"ph":"X","name":"work","ts":0,"dur":50000,"pid":1,"tid":1},{"ph":"X","name":"work","ts":0,"dur":50000,"pid":1,"tid":2}]"#
        )
        let given = try cctrace(["report", "--cores", "16", "--format", "json", path])
        let work = try #require(
            (try JSONSerialization.jsonObject(with: Data(given.stdout.utf8)) as? [String: Any])?["work"]
                as? [String: Any])
        #expect(work["cores"] as? Int == 16)
        #expect(work["cores_source"] as? String == "option")
        let assumed = try cctrace(["report", path])
        #expect(assumed.stdout.contains("(assumed"), "\(assumed.stdout)")
        #expect(try cctrace(["report", "--cores", "0", path]).status != 0)
    }

    /// `--set` overrides a heuristic by its key; unknown keys and out-of-range values are
    /// rejected with the key named.
    @Test func setOverridesAHeuristic() throws {
        var events: [String] = []
        for i in 0..<5 {
            events.append(
                #"{"ph":"X","name":"render","cat":"cctrace.loop","ts":\#(i * 100_000),"dur":60000,"pid":1,"tid":1,"args":{"loop":"main"}}"#
            )
        }
        let path = try writeTemporary("[" + events.joined(separator: ",") + "]")
        let plain = try cctrace(["report", "--fail-on", "blocked-event-loop", path])
        #expect(plain.status == 0)
        let lowered = try cctrace(["report", "--set", "slow-callback=50", "--fail-on", "blocked-event-loop", path])
        #expect(lowered.status == 3, "\(lowered.stdout)")
        let unknown = try cctrace(["report", "--set", "no-such-thing=1", path])
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("no-such-thing"))
        let share = try cctrace(["report", "--set", "cpu-bound=1.5", path])
        #expect(share.status != 0)
        #expect(share.stderr.contains("cpu-bound"))
    }

    /// `cctrace heuristics` lists every threshold with its reason, and docs/heuristics.md is
    /// that table.
    @Test func heuristicsTable() throws {
        let r = try cctrace(["heuristics"])
        #expect(r.status == 0)
        for key in ["slow-callback = 100 ms", "cpu-bound = 0.7 share", "assumed-cores = 4", "why:", "from:"] {
            #expect(r.stdout.contains(key), "\(key)")
        }
        let markdown = try cctrace(["heuristics", "--format", "markdown"])
        var root = URL(fileURLWithPath: #filePath)
        while !FileManager.default.fileExists(atPath: root.appendingPathComponent("Package.swift").path) {
            root.deleteLastPathComponent()
        }
        let doc = try String(contentsOf: root.appendingPathComponent("docs/heuristics.md"), encoding: .utf8)
        #expect(
            doc == markdown.stdout,
            "docs/heuristics.md is stale: cctrace heuristics --format markdown > docs/heuristics.md")
    }
}
