import CCTraceAnalysis
import CCTraceFormat
import Foundation
import Testing

/// The document `cctrace view` sends: CPU bands instead of CPU counters, task parents, actor
/// lanes, sampled stacks as a tree, args embedded for a self-contained file.
@Suite struct ViewerDataTests {
    static let events = [
        #"{"ph":"M","name":"thread_name","pid":1,"tid":2,"args":{"name":"w"}}"#,
        #"{"ph":"X","name":"work","ts":0,"dur":100,"pid":1,"tid":2,"args":{"n":1}}"#,
        #"{"ph":"X","name":"actor Cache","cat":"cctrace.task","ts":10,"dur":5,"pid":1,"tid":2}"#,
        #"{"ph":"X","name":"actor Cache","cat":"cctrace.task","ts":40,"dur":5,"pid":1,"tid":3}"#,
        #"{"ph":"C","name":"cpu 2","cat":"cctrace.cpu","ts":0,"pid":1,"tid":2,"args":{"running_pct":50,"runnable_pct":25}}"#,
        #"{"ph":"C","name":"cpu 2","cat":"cctrace.cpu","ts":50,"pid":1,"tid":2,"args":{"running_pct":100,"runnable_pct":0}}"#,
        #"{"ph":"C","name":"cpu 2","cat":"cctrace.cpu","ts":100,"pid":1,"tid":2,"args":{"running_pct":0,"runnable_pct":0}}"#,
        #"{"ph":"C","name":"queue depth","ts":0,"pid":1,"tid":2,"args":{"value":3}}"#,
        #"{"ph":"b","name":"parent","cat":"cctrace.task","id":"7","ts":0,"pid":1,"tid":2,"args":{"task_id":7}}"#,
        #"{"ph":"b","name":"child","cat":"cctrace.task","id":"8","ts":5,"pid":1,"tid":2,"args":{"task_id":8,"parent_task_id":7}}"#,
        #"{"ph":"e","name":"child","cat":"cctrace.task","id":"8","ts":20,"pid":1,"tid":2}"#,
        #"{"ph":"e","name":"parent","cat":"cctrace.task","id":"7","ts":30,"pid":1,"tid":2}"#,
        #"{"ph":"P","name":"sample","ts":20,"pid":1,"tid":2,"sf":"2"}"#,
        #"{"ph":"P","name":"sample","ts":30,"pid":1,"tid":2,"sf":"3"}"#,
    ]
    static let trace =
        "{\"traceEvents\":[" + events.joined(separator: ",\n") + "],"
        + #""stackFrames":{"1":{"name":"main"},"2":{"name":"parse","parent":"1"},"3":{"name":"hash","parent":"1"}}}"#

    func document(embed: Bool = false, extra: [(String, [UInt8])] = []) throws -> [String: Any] {
        let model = try TraceImporter.importTrace(bytes: Array(Self.trace.utf8))
        var options = AnalysisOptions()
        options.cores = 2
        let report = AnalysisReport(model: model, options: options)
        let bytes = ViewerData.json(model: model, report: report, path: "t.json", embedArguments: embed, extra: extra)
        return try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    @Test func cpuReadingsAreBandsNotCounters() throws {
        let doc = try document()
        let threads = try #require(doc["threads"] as? [[String: Any]])
        let w = try #require(threads.first { $0["tid"] as? Int == 2 })
        let cpu = try #require(w["cpu"] as? [String: [Double]])
        #expect(cpu["run"] == [0.5, 1])
        #expect(cpu["rq"] == [0.25, 0])
        #expect(cpu["e"] == [50_000, 100_000])
        let counters = try #require(doc["counters"] as? [[String: Any]])
        #expect(counters.map { $0["name"] as? String } == ["queue depth"])
    }

    @Test func tasksKnowTheirParentAndActorsHaveLanes() throws {
        let doc = try document()
        let strings = try #require(doc["strings"] as? [String])
        let tracks = try #require(doc["async_tracks"] as? [[String: Any]])
        let parent = try #require(tracks.firstIndex { $0["name"] as? String == "parent" })
        let child = try #require(tracks.first { $0["name"] as? String == "child" })
        #expect(child["kind"] as? String == "task")
        #expect(child["parent"] as? Int == parent)
        let actor = try #require(tracks.firstIndex { $0["kind"] as? String == "actor" })
        #expect(tracks[actor]["name"] as? String == "actor Cache")
        let async = try #require(doc["async"] as? [String: [Int]])
        let runs = async["track"]!.indices.filter { async["track"]![$0] == actor }
        #expect(runs.count == 2)
        // Each run is named after the thread it ran on.
        #expect(runs.map { strings[async["name"]![$0]] }.contains("w (2)"))
    }

    @Test func samplesComeWithTheirFramesAsATree() throws {
        let doc = try document()
        let strings = try #require(doc["strings"] as? [String])
        let frames = try #require(doc["frames"] as? [String: [Int]])
        let samples = try #require(doc["samples"] as? [String: [Int]])
        #expect(samples["t"] == [20_000, 30_000])
        let leaves = samples["frame"]!
        #expect(leaves.map { strings[frames["name"]![$0]] } == ["parse", "hash"])
        // Both leaves hang off one `main` node.
        let parents = leaves.map { frames["parent"]![$0] }
        #expect(parents[0] == parents[1])
        #expect(strings[frames["name"]![parents[0]]] == "main")
        #expect(frames["parent"]![parents[0]] == -1)
    }

    @Test func aSelfContainedDocumentCarriesArgsAndCategories() throws {
        let served = try document()
        #expect(served["args"] == nil)
        let slicesServed = try #require(served["slices"] as? [String: Any])
        #expect(slicesServed["category"] == nil)
        let doc = try document(embed: true, extra: [("diff", Array(#"{"speedup":2}"#.utf8))])
        let args = try #require(doc["args"] as? [String: [String: Int]])
        let strings = try #require(doc["strings"] as? [String])
        let slices = try #require(doc["slices"] as? [String: [Int]])
        let work = try #require(slices["name"]!.firstIndex { strings[$0] == "work" })
        #expect(args["\(work)"] == ["n": 1])
        #expect(strings[slices["category"]![work]] == "")
        let actorRun = try #require(slices["name"]!.firstIndex { strings[$0] == "actor Cache" })
        #expect(strings[slices["category"]![actorRun]] == "cctrace.task")
        #expect((doc["diff"] as? [String: Int])?["speedup"] == 2)
    }
}
