import CCTraceAnalysis
import CCTraceFormat
import Foundation
import Testing

/// A deterministic text dump of everything the importer made of a trace.
func dump(_ m: TraceModel) -> String {
    func t(_ x: TraceTimestamp) -> String { "\(x.nanoseconds)" }
    func d(_ x: TraceDuration) -> String { "\(x.nanoseconds)" }
    var out = "events \(m.eventCount); bounds \(t(m.bounds.lowerBound))...\(t(m.bounds.upperBound)) ns\n"
    for p in m.processes {
        out += "process \(p.pid) name=\(p.name ?? "-") sort=\(p.sortIndex.map(String.init) ?? "-")\n"
        for ti in p.threads {
            let th = m.threads[ti]
            out += "  thread \(th.tid) name=\(th.name ?? "-") sort=\(th.sortIndex.map(String.init) ?? "-")\n"
            for s in m.slices(ofThread: ti) {
                let args = s.args.map { " args=" + m.arguments.text($0) } ?? ""
                out += "    " + String(repeating: ". ", count: s.depth)
                out += "\(s.name) [\(s.category)] \(t(s.start))+\(d(s.duration)) self=\(d(s.selfDuration))\(args)\n"
            }
        }
    }
    for a in m.asyncSlices {
        out += "async \(a.category)/\(a.id) pid=\(a.pid) depth=\(a.depth) \(a.name) \(t(a.start))+\(d(a.duration))\n"
    }
    for i in m.instants { out += "instant \(i.name) \(t(i.timestamp)) thread=\(i.thread)\n" }
    for c in m.counters {
        out += "counter \(c.pid) \(c.name): \(c.points.map { "\(t($0.0))=\($0.1)" }.joined(separator: " "))\n"
    }
    for f in m.flows {
        out += "flow \(f.id) \(f.name): \(f.from.pid)/\(m.threads[f.from.thread].tid)@\(t(f.from.timestamp))"
        out += " -> \(f.to.pid)/\(m.threads[f.to.thread].tid)@\(t(f.to.timestamp))\n"
    }
    for s in m.samples {
        let stack = s.stackFrame.map { m.stack(of: $0).map(\.name).joined(separator: " < ") } ?? "-"
        out += "sample \(t(s.timestamp)) tid=\(m.threads[s.thread].tid) weight=\(s.weight) stack=\(stack)\n"
    }
    if m.objectEventCount > 0 { out += "object events \(m.objectEventCount)\n" }
    for (k, v) in m.session.sorted(by: { $0.key < $1.key }) { out += "session \(k)=\(v.serialized())\n" }
    for g in m.diagnostics {
        let file = g.file.map { URL(fileURLWithPath: $0).lastPathComponent + " " } ?? ""
        out += "diagnostic \(g.kind) x\(g.count) \(file)line \(g.line) byte \(g.byteOffset): \(g.message)\n"
    }
    return out
}

let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

/// Fixture in → model dump out, compared with `<fixture>.golden`. Set CCTRACE_UPDATE_GOLDEN=1
/// to rewrite the golden files after an intended change (and review the diff).
@Suite struct GoldenTests {
    static let names = [
        "array-basic.json", "truncated-crash.json", "object-form.json", "numbers.json", "unicode.json",
        "unsorted.json", "phases.json", "broken.json", "unsorted-gzip.json.gz", "two-members.json.gz",
        "truncated-gzip.json.gz", "per-process",
    ]

    @Test(arguments: names)
    func fixtureMatchesGolden(_ name: String) throws {
        let model = try TraceImporter.importTrace(path: fixtures.appendingPathComponent(name).path)
        let actual = dump(model)
        let golden = fixtures.appendingPathComponent("golden").appendingPathComponent(name + ".golden")
        if ProcessInfo.processInfo.environment["CCTRACE_UPDATE_GOLDEN"] == "1" {
            try FileManager.default.createDirectory(
                at: golden.deletingLastPathComponent(), withIntermediateDirectories: true)
            try actual.write(to: golden, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: golden, encoding: .utf8)
        #expect(actual == expected, "golden \(name) differs; run with CCTRACE_UPDATE_GOLDEN=1 and review")
    }

    /// The gzip fixture says exactly what the plain one says.
    @Test func gzipImportsLikeThePlainFile() throws {
        let plain = try TraceImporter.importTrace(path: fixtures.appendingPathComponent("unsorted.json").path)
        let zipped = try TraceImporter.importTrace(path: fixtures.appendingPathComponent("unsorted-gzip.json.gz").path)
        #expect(dump(plain) == dump(zipped))
    }

    /// Every fixture also imports from memory (the fuzzing entry point) to the same model.
    @Test(arguments: names.filter { $0 != "per-process" })
    func memoryImportMatchesFileImport(_ name: String) throws {
        let url = fixtures.appendingPathComponent(name)
        let fromFile = try TraceImporter.importTrace(path: url.path)
        let fromMemory = try TraceImporter.importTrace(bytes: Array(try Data(contentsOf: url)))
        // Line numbers are only recovered for files.
        func withoutLines(_ s: String) -> String {
            s.replacingOccurrences(of: #"line \d+ "#, with: "", options: .regularExpression)
        }
        #expect(withoutLines(dump(fromFile)) == withoutLines(dump(fromMemory)))
    }
}
