import CCTraceAnalysis
import CCTraceFormat
import Foundation
import Testing

func importText(_ text: String) throws -> TraceModel {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("m-\(UUID().uuidString).json").path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    defer { unlink(path) }
    return try TraceImporter.importTrace(path: path)
}

@Suite struct ImporterTests {
    /// A directory of more trace files than the store keeps open: the arguments of the files
    /// past the limit are copied, and every slice's are read back.
    @Test func manyFilesKeepTheirArguments() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("d-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for k in 0..<70 {
            let text = #"[{"ph":"X","name":"n","pid":\#(k + 1),"tid":1,"ts":\#(k),"dur":1,"args":{"k":\#(k)}}]"#
            try text.write(toFile: dir + "/t\(1000 + k).json", atomically: true, encoding: .utf8)
        }
        let model = try TraceImporter.importTrace(path: dir)
        #expect(model.slices.count == 70)
        let ks = model.slices.compactMap { s in s.args.flatMap { model.arguments.value($0) }?["k"]?.intValue }
        #expect(ks.sorted() == (0..<70).map { Int64($0) })
        #expect(model.arguments.byteCount > 0, "files past the limit are copied")
    }

    /// A file read in two parts by two threads gives the model one reader gives: the same
    /// slices, names, flows, counters and diagnostics (on the same lines), for the array form,
    /// the object form with keys after the events, a truncated file, and a pretty-printed file
    /// whose middle line is inside an event (the split is refused, the file read again).
    @Test func twoPartImportEqualsOneReader() throws {
        func events(_ n: Int) -> [String] {
            (0..<n).map { i in
                switch i % 50 {
                case 0: return #"{"ph":"M","name":"thread_name","pid":1,"tid":\#(i % 4),"args":{"name":"t\#(i)"}}"#
                case 1: return #"{"ph":"C","name":"queue","pid":1,"tid":1,"ts":\#(i * 10),"args":{"depth":\#(i % 9)}}"#
                case 2: return #"{"ph":"s","name":"m","cat":"x","id":\#(i),"pid":1,"tid":\#(i % 4),"ts":\#(i * 10)}"#
                case 3:
                    return
                        #"{"ph":"f","bp":"e","name":"m","cat":"x","id":\#(i - 1),"pid":1,"tid":\#((i + 1) % 4),"ts":\#(i * 10 + 5)}"#
                case 4: return #"{"ph":"X","name":"bad","pid":1,"tid":1,"ts":\#(i * 10),"dur":-1}"#
                default:
                    return
                        #"{"ph":"X","name":"n\#(i % 7)","pid":1,"tid":\#(i % 4),"ts":\#(i * 10),"dur":\#(i % 3 + 1),"args":{"i":\#(i)}}"#
                }
            }
        }
        func model(_ text: String, parts: Bool) throws -> TraceModel {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("p-\(UUID().uuidString).json").path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            defer { unlink(path) }
            return try TraceImporter.importTrace(path: path, splitMinimumBytes: parts ? 1 : .max)
        }
        func same(_ text: String) throws {
            let a = try model(text, parts: true)
            let b = try model(text, parts: false)
            #expect(a.slices.count == b.slices.count && a.slices.count > 0)
            #expect(a.slices.map(\.name) == b.slices.map(\.name))
            #expect(a.slices.map(\.start) == b.slices.map(\.start))
            #expect(a.slices.map(\.parent) == b.slices.map(\.parent))
            #expect(
                zip(a.slices, b.slices).allSatisfy { x, y in
                    x.args.flatMap { a.arguments.text($0) } == y.args.flatMap { b.arguments.text($0) }
                })
            #expect(a.threads.map(\.name) == b.threads.map(\.name))
            #expect(a.flows.count == b.flows.count && a.counters.map(\.points.count) == b.counters.map(\.points.count))
            #expect(a.eventCount == b.eventCount)
            #expect(a.session.keys.sorted() == b.session.keys.sorted())
            let da = a.diagnostics.map { "\($0.kind) \($0.count) \($0.line) \($0.message)" }
            let db = b.diagnostics.map { "\($0.kind) \($0.count) \($0.line) \($0.message)" }
            #expect(da == db)
        }
        let lines = events(4000)
        try same("[\n" + lines.joined(separator: ",\n") + "\n]\n")
        try same(#"{"traceEvents":["# + "\n" + lines.joined(separator: ",\n") + "\n]," + #""metadata":{"k":"v"}}"#)
        // Cut off in the second half, in both forms (the count of events read covers both parts).
        try same("[\n" + lines.joined(separator: ",\n").prefix(150_000))
        try same(#"{"traceEvents":["# + "\n" + lines.joined(separator: ",\n").prefix(150_000))
        // Pretty-printed: lines inside events end in commas and the next may open an object.
        let pretty = lines.map { $0.replacingOccurrences(of: #","args":{"#, with: ",\n  \"args\":\n{") }
        try same("[\n" + pretty.joined(separator: ",\n") + "\n]\n")
        // The middle of the file inside one event whose lines look like event boundaries.
        let list = (0..<6000).map { #"{"k":\#($0)}"# }.joined(separator: ",\n")
        let giant = #"{"ph":"X","name":"giant","pid":1,"tid":1,"ts":5,"dur":1,"args":{"list":["# + "\n" + list + "]}}"
        try same("[\n" + (lines.prefix(100) + [giant] + lines.suffix(100)).joined(separator: ",\n") + "\n]\n")
    }

    /// `args` of a plain file are read back from the file (through a moving window), even after
    /// it was unlinked; in any order; the same as when they are copied (a trace in memory).
    @Test func argumentsReadBackFromTheFileInAnyOrder() throws {
        var lines: [String] = []
        for i in 0..<20_000 {
            lines.append(
                #"{"ph":"X","name":"n\#(i % 7)","pid":1,"tid":\#(1 + i % 3),"ts":\#(i * 10),"dur":5,"args":{"i":\#(i),"pad":"\#(String(repeating: "x", count: i % 97))"}}"#
            )
        }
        let text = "[\n" + lines.joined(separator: ",\n") + "\n]"
        let fromFile = try importText(text)
        let inMemory = try TraceImporter.importTrace(bytes: Array(text.utf8))
        #expect(fromFile.slices.count == 20_000)
        #expect(fromFile.arguments.byteCount == 0, "a plain file's args are referenced, not copied")
        #expect(inMemory.arguments.byteCount > 1_000_000)
        func check(_ model: TraceModel, _ order: [Int]) {
            for k in order {
                let s = model.slices[k]
                let args = s.args.flatMap { model.arguments.value($0) }
                let i = Int(args?["i"]?.intValue ?? -1)
                #expect(i >= 0 && s.start.nanoseconds == Int64(i) * 10_000, "slice \(k)")
                #expect(args?["pad"]?.stringValue?.count == i % 97)
            }
        }
        check(fromFile, Array(fromFile.slices.indices.reversed()))
        check(fromFile, Array(fromFile.slices.indices).shuffled())
        check(inMemory, Array(inMemory.slices.indices))
    }

    @Test func beginEndAndCompleteNestPerThreadKeyedByPidAndTid() throws {
        // Children before parents, metadata at the end, the same tid in two processes.
        let model = try importText(
            """
            [{"ph":"X","name":"child","ts":2,"dur":1,"pid":1,"tid":7},
             {"ph":"B","name":"parent","ts":1,"pid":1,"tid":7},
             {"ph":"E","ts":5,"pid":1,"tid":7},
             {"ph":"X","name":"other","ts":1,"dur":9,"pid":2,"tid":7},
             {"ph":"M","name":"thread_name","pid":1,"tid":7,"args":{"name":"worker"}},
             {"ph":"M","name":"process_name","pid":2,"args":{"name":"child-proc"}}]
            """)
        #expect(model.threads.count == 2)
        #expect(model.processes.map(\.pid) == [1, 2])
        #expect(model.processes[1].name == "child-proc")
        let t = try #require(model.threads.firstIndex { $0.pid == 1 && $0.tid == 7 })
        #expect(model.threads[t].name == "worker")
        let slices = Array(model.slices(ofThread: t))
        #expect(slices.map(\.name) == ["parent", "child"])
        #expect(slices[1].depth == 1 && model.slices[slices[1].parent].name == "parent")
        #expect(slices[0].duration.nanoseconds == 4_000)
        #expect(slices[0].selfDuration.nanoseconds == 3_000)
        #expect(model.diagnostics.isEmpty)
    }

    @Test func unmatchedAndOverlappingAreReported() throws {
        let model = try importText(
            """
            [{"ph":"E","ts":1,"pid":1,"tid":1},
             {"ph":"B","name":"never-closed","ts":2,"pid":1,"tid":1},
             {"ph":"X","name":"a","ts":10,"dur":10,"pid":1,"tid":2},
             {"ph":"X","name":"b","ts":15,"dur":10,"pid":1,"tid":2},
             {"ph":"X","name":"end","ts":40,"dur":1,"pid":1,"tid":1},
             {"ph":"Z","name":"future","ts":1,"pid":1,"tid":1}]
            """)
        let kinds = Set(model.diagnostics.map(\.kind))
        #expect(kinds.contains(.unmatchedEnd))
        #expect(kinds.contains(.unclosedBegin))
        #expect(kinds.contains(.overlappingSlice))
        #expect(kinds.contains(.unknownPhase))
        let open = try #require(model.slices.first { $0.name == "never-closed" })
        #expect(open.end.nanoseconds == 41_000)
    }

    @Test func asyncSlicesFlowsAndCounters() throws {
        let model = try importText(
            """
            [{"ph":"b","cat":"cctrace.task","name":"t","id":5,"ts":1,"pid":1,"tid":1,"args":{"task_id":5}},
             {"ph":"b","cat":"cctrace.task","name":"inner","id":5,"ts":2,"pid":1,"tid":1},
             {"ph":"e","cat":"cctrace.task","name":"inner","id":5,"ts":3,"pid":1,"tid":2},
             {"ph":"e","cat":"cctrace.task","name":"t","id":5,"ts":4,"pid":1,"tid":2},
             {"ph":"s","cat":"ipc","name":"msg","id":9,"ts":1,"pid":1,"tid":1},
             {"ph":"f","cat":"ipc","name":"msg","id":9,"ts":2,"pid":2,"tid":1,"bp":"e"},
             {"ph":"s","cat":"ipc","name":"lost","id":10,"ts":1,"pid":1,"tid":1},
             {"ph":"C","name":"mem","ts":1,"pid":1,"args":{"rss":10,"heap":4}},
             {"ph":"C","name":"mem","ts":2,"pid":1,"args":{"rss":12,"heap":5}}]
            """)
        let task = try #require(model.asyncSlices.first { $0.name == "t" })
        #expect(task.depth == 0 && task.duration.nanoseconds == 3_000)
        #expect(model.asyncSlices.first { $0.name == "inner" }?.depth == 1)
        #expect(model.flows.count == 1)
        #expect(model.flows[0].from.pid == 1 && model.flows[0].to.pid == 2)
        #expect(model.diagnostics.contains { $0.kind == .danglingFlow })
        #expect(model.counters.map(\.name) == ["mem heap", "mem rss"])
        #expect(model.counters[1].points.map(\.1) == [10, 12])
    }

    @Test func summaryRanksSpansBySelfTime() throws {
        let model = try importText(
            """
            [{"ph":"X","name":"outer","ts":0,"dur":100,"pid":1,"tid":1},
             {"ph":"X","name":"hot","ts":10,"dur":80,"pid":1,"tid":1},
             {"ph":"X","name":"hot","ts":200,"dur":20,"pid":1,"tid":1}]
            """)
        let summary = TraceSummary(model: model)
        #expect(summary.busiestSpans.first?.name == "hot")
        #expect(summary.busiestSpans.first?.count == 2)
        #expect(summary.busiestSpans.first?.selfTotal.nanoseconds == 100_000)
        #expect(summary.threads.first?.busy.nanoseconds == 120_000)
        let json = SummaryRenderer.render(summary, path: "t.json", format: .json)
        let parsed = try #require(JSONValue.parse(json))
        #expect(parsed["schema_version"] == .number(1))
        #expect(
            parsed["busiest_spans"].flatMap { if case .array(let a) = $0 { a.first } else { nil } }?["name"]
                == .string("hot"))
    }

    /// A real trace from another tool: viztracer 1.1.1 (object form, gzip) of a Python program
    /// with two worker threads that compute and sleep.
    @Test func importsViztracerTrace() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/viztracer-threads.json.gz").path
        let model = try TraceImporter.importTrace(path: path)
        #expect(model.processes.count == 1)
        #expect(model.processes[0].name == "MainProcess")
        let workers = model.threads.filter { $0.name?.hasPrefix("Thread-") == true }
        #expect(workers.count == 2)
        #expect(model.slices.filter { $0.name == "time.sleep" }.count == 4)
        #expect(model.slices.contains { $0.name.hasPrefix("work (") && $0.depth > 0 })
        #expect(model.diagnostics.isEmpty)
    }

    /// Found by the fuzzer: durations near the limits of Int64 must not overflow a sum.
    @Test func hugeTimesAreClampedAndSumsSaturate() throws {
        let model = try importText(
            """
            [{"ph":"X","name":"a","ts":1,"dur":9e15,"pid":1,"tid":1},
             {"ph":"X","name":"a","ts":9e15,"dur":9e15,"pid":1,"tid":1},
             {"ph":"X","name":"a","ts":2e16,"dur":9e15,"pid":1,"tid":1},
             {"ph":"X","name":"b","ts":-1e300,"dur":1e300,"pid":1,"tid":2}]
            """)
        #expect(model.diagnostics.contains { $0.kind == .outOfRangeTime })
        #expect(model.slices.allSatisfy { $0.duration.nanoseconds <= traceTimeLimit })
        let summary = TraceSummary(model: model)
        #expect(summary.busiestSpans.first { $0.name == "a" }?.total.nanoseconds == Int64.max)
    }

    /// Found by the fuzzer: CPU shares far outside 0…100 % must not overflow the usage sums.
    @Test func absurdCPUSharesAreClamped() throws {
        let model = try importText(
            """
            [{"ph":"C","cat":"cctrace.cpu","name":"cpu 1","pid":1,"tid":1,"ts":0,"args":{"running_pct":1e300,"runnable_pct":-5}},
             {"ph":"C","cat":"cctrace.cpu","name":"cpu 1","pid":1,"tid":1,"ts":3e15,"args":{"running_pct":50,"runnable_pct":0}}]
            """)
        let usage = try #require(model.threads.first?.cpu).usage(in: model.bounds)
        #expect(usage.running == model.duration)
        #expect(usage.runnable == .zero)
        _ = TraceSummary(model: model)
    }

    @Test func textReportEscapesControlCharactersFromTheTrace() throws {
        let model = try importText(#"[{"ph":"X","name":"evil\u001b[31mred","ts":0,"dur":1,"pid":1,"tid":1}]"#)
        let text = SummaryRenderer.render(TraceSummary(model: model), path: "t", format: .text)
        #expect(!text.contains("\u{1b}"))
        #expect(text.contains("evil\\u{1b}[31mred"))
    }
}
