import CCTraceAnalysis
import CCTraceFormat
import Foundation
import Testing

/// Slices sent on demand (`ViewerSlices`): a full window holds exactly the slices that overlap
/// it; a window at level of detail keeps every slice a pixel wide, covers the rest with runs
/// that never hide a wide slice, and is much smaller than the slices it stands for; search
/// follows the page's rule; the document leaves the slices out.
@Suite struct ViewerWindowTests {
    /// 3 threads of nested slices (depth 0–2, some lock waits), deterministic.
    static let model: TraceModel = {
        var seed: UInt64 = 42
        func next(_ n: Int) -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((seed >> 33) % UInt64(n))
        }
        var events: [String] = []
        let names = ["parse", "Render", "query", "hash"]
        for tid in 1...3 {
            var t = 0
            for _ in 0..<600 {
                // Mostly short, one in 50 long enough to be a pixel wide at 100 columns.
                let outer = next(50) == 0 ? 2500 + next(3000) : 5 + next(400)
                events.append(
                    #"{"ph":"X","name":"\#(names[next(4)])","ts":\#(t),"dur":\#(outer),"pid":1,"tid":\#(tid)}"#)
                var inner = t + outer / 10
                for _ in 0..<2 {
                    let d = max(1, outer / 4 - next(max(1, outer / 8)))
                    let lock = next(3) == 0
                    events.append(
                        #"{"ph":"X","name":"\#(lock ? "lock wait" : "copy")","cat":"\#(lock ? "cctrace.lock" : "app")","ts":\#(inner),"dur":\#(d),"pid":1,"tid":\#(tid)}"#
                    )
                    events.append(
                        #"{"ph":"X","name":"leaf","ts":\#(inner + d / 4),"dur":\#(max(0, d / 2)),"pid":1,"tid":\#(tid)}"#
                    )
                    inner += d + d / 10 + 1
                }
                t += outer + next(60)
            }
        }
        return try! TraceImporter.importTrace(bytes: Array(("[" + events.joined(separator: ",\n") + "]").utf8))
    }()

    static let slices: ViewerSlices = {
        var options = AnalysisOptions()
        options.cores = 2
        return ViewerSlices(model: model, report: AnalysisReport(model: model, options: options))
    }()

    struct Entry {
        var index: Int, start: Int64, end: Int64, depth: Int, name: String, kind: Int, merged: Bool, thread: Int
    }

    func window(_ request: ViewerSlices.Request) throws -> (json: [String: Any], entries: [Entry]) {
        let bytes = Self.slices.window(request)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        guard let strings = json["strings"] as? [String], let threads = json["threads"] as? [[String: Int]] else {
            return (json, [])
        }
        func column(_ key: String) -> [Int] { (json[key] as? [Int]) ?? [] }
        let index = column("index"), start = column("start"), dur = column("dur"), depth = column("depth")
        let name = column("name"), kind = column("kind"), merged = column("merged")
        var entries: [Entry] = []
        for t in threads {
            var last = Int.min
            for k in t["first"]!..<t["end"]! {
                #expect(start[k] >= last, "entries of a thread come by start")
                last = start[k]
                entries.append(
                    Entry(
                        index: index[k], start: Int64(start[k]), end: Int64(start[k] + dur[k]), depth: depth[k],
                        name: strings[name[k]], kind: kind[k], merged: merged.isEmpty ? false : merged[k] == 1,
                        thread: t["thread"]!))
            }
        }
        return (json, entries)
    }

    var origin: Int64 { Self.model.bounds.lowerBound.nanoseconds }

    func overlapping(_ t0: Int64, _ t1: Int64, threads: Set<Int>) -> [Int] {
        Self.model.slices.indices.filter { i in
            let s = Self.model.slices[i]
            let start = s.start.nanoseconds - origin
            return threads.contains(s.thread) && start < t1 && start + s.duration.nanoseconds >= t0
        }
    }

    @Test func fullWindowHoldsExactlyTheOverlappingSlices() throws {
        let span = Self.model.duration.nanoseconds
        for (t0, t1, threads) in [
            (Int64(0), span, [0, 1, 2]), (span / 3, span / 3 + span / 50, [1]), (span / 2, span / 2 + 1, [0, 2]),
        ] {
            let (json, entries) = try window(
                .init(t0: Double(t0), t1: Double(t1), nsPerPixel: 1000, threads: threads, fullLimit: 1_000_000))
            #expect(json["full"] as? Bool == true)
            let expected = overlapping(t0, t1, threads: Set(threads))
            #expect(!expected.isEmpty)
            #expect(entries.map(\.index).sorted() == expected)
            for e in entries {
                let s = Self.model.slices[e.index]
                #expect(e.name == s.name && e.thread == s.thread && e.depth == s.depth && !e.merged)
                #expect(e.start == s.start.nanoseconds - origin && e.end - e.start == s.duration.nanoseconds)
                // Lock waits are kind 1 (recorded); the rest are one of the page's kinds.
                if s.category == "cctrace.lock" { #expect(e.kind == 1) } else { #expect((0...8).contains(e.kind)) }
            }
        }
    }

    @Test func detailWindowKeepsWideSlicesAndCoversTheRest() throws {
        let span = Self.model.duration.nanoseconds
        let npp = Double(span) / 100  // 100 pixel columns: ≈ 18 top-level slices per column
        let (json, entries) = try window(.init(t0: 0, t1: Double(span), nsPerPixel: npp, fullLimit: 0))
        #expect(json["full"] as? Bool == false)
        let candidates = try #require(json["candidates"] as? Int)
        #expect(entries.count * 3 < candidates, "level of detail sends far fewer entries than slices")
        #expect(entries.contains { $0.merged })
        let whole = Set(entries.filter { !$0.merged }.map(\.index))
        let wide = Self.model.slices.filter { Double($0.duration.nanoseconds) >= npp }.count
        #expect(wide > 10 && whole.count >= wide)
        var rows: [[Int]: [Entry]] = [:]
        for e in entries { rows[[e.thread, e.depth], default: []].append(e) }
        for (i, s) in Self.model.slices.enumerated() {
            let start = s.start.nanoseconds - origin
            let end = start + s.duration.nanoseconds
            // A slice a pixel wide or more is sent as itself.
            if Double(s.duration.nanoseconds) >= npp { #expect(whole.contains(i), "slice \(i) is a pixel wide") }
            // Every slice lies under an entry of its row, to within a pixel.
            let row = rows[[s.thread, s.depth]] ?? []
            #expect(
                row.contains { Double($0.start) - npp <= Double(start) && Double(end) <= Double($0.end) + npp },
                "slice \(i) is covered")
        }
        // A run never spans a slice drawn whole on its row.
        for row in rows.values {
            let sorted = row.sorted { $0.start < $1.start }
            for run in sorted where run.merged {
                for w in sorted where !w.merged {
                    #expect(!(run.start < w.start && w.start + Int64(npp) < run.end), "run hides a wide slice")
                }
            }
        }
    }

    @Test func demandedFullWindowAboveItsCapSaysHowMany() throws {
        let span = Double(Self.model.duration.nanoseconds)
        let (json, entries) = try window(.init(t0: 0, t1: span, nsPerPixel: 1, forceFull: true, fullCap: 100))
        #expect(entries.isEmpty)
        #expect(json["error"] as? String == "too many slices")
        #expect(json["candidates"] as? Int == Self.model.slices.count)
        let (ok, all) = try window(.init(t0: 0, t1: span, nsPerPixel: 1, fullLimit: 0, forceFull: true))
        #expect(ok["full"] as? Bool == true && all.count == Self.model.slices.count)
    }

    @Test func searchMatchesNamesIgnoringCaseByStart() throws {
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(Self.slices.search(" rEnD ", limit: 50))) as? [String: Any])
        let index = try #require(json["index"] as? [Int])
        let start = try #require(json["start"] as? [Int])
        let firstFifty = Self.model.slices.indices.filter { Self.model.slices[$0].name == "Render" }.prefix(50)
        #expect(index.count == 50 && Set(index) == Set(firstFifty))
        #expect(zip(start, start.dropFirst()).allSatisfy { $0 <= $1 })
        #expect(
            index.allSatisfy { Self.model.slices[$0].start.nanoseconds - origin == start[index.firstIndex(of: $0)!] })
        let none = try #require(
            try JSONSerialization.jsonObject(with: Data(Self.slices.search("   "))) as? [String: Any])
        #expect(none["count"] as? Int == 0)
    }

    @Test func documentLeavesTheSlicesOnTheServer() throws {
        var options = AnalysisOptions()
        options.cores = 2
        let report = AnalysisReport(model: Self.model, options: options)
        let bytes = ViewerData.json(model: Self.model, report: report, path: "t", onDemand: Self.slices)
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        let slices = try #require(doc["slices"] as? [String: Any])
        #expect(slices["on_demand"] as? Bool == true)
        #expect(slices["count"] as? Int == Self.model.slices.count)
        #expect((slices["start"] as? [Int])?.isEmpty == true)
        let activity = try #require(slices["activity"] as? [Double])
        #expect(activity.count == 4096 && activity.contains { $0 > 0.5 } && activity.allSatisfy { $0 <= 3 })
        let threads = try #require(doc["threads"] as? [[String: Any]])
        for (t, info) in threads.enumerated() {
            let longest = Self.model.slices(ofThread: t).map(\.duration.nanoseconds).max() ?? 0
            #expect(info["max_dur"] as? Int64 == longest || info["max_dur"] as? Int == Int(longest))
        }
        #expect(bytes.count * 4 < ViewerData.json(model: Self.model, report: report, path: "t").count)
    }

    @Test func rangeStatisticsCountEverySliceOfTheRange() throws {
        let span = Double(Self.model.duration.nanoseconds)
        let bytes = Self.slices.rangeStatistics(t0: span / 4, t1: span / 2)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        let locks = try #require(json["locks"] as? [String: Any])
        let inRange = Self.model.slices.filter { s in
            let a = Double(s.start.nanoseconds - origin)
            let b = a + Double(s.duration.nanoseconds)
            return min(b, span / 2) - max(a, span / 4) > 0
        }
        // Lock waits by kind (as the page draws them: recorded or classified), from a full window.
        let (_, all) = try window(.init(t0: span / 4, t1: span / 2, nsPerPixel: 1, forceFull: true))
        let waits = all.filter { $0.kind == 1 && min($0.end, Int64(span / 2)) - max($0.start, Int64(span / 4)) > 0 }
        #expect(locks["count"] as? Int == waits.count && !waits.isEmpty)
        let perThread = try #require(locks["threads"] as? [[String: Any]])
        #expect(perThread.count == 3)
        #expect(perThread.map { $0["count"] as! Int }.reduce(0, +) == waits.count)
        // Self time by name adds up to the outermost slices' time inside the range.
        let top = try #require(json["slices"] as? [[String: Any]])
        let selfTotal = top.map { $0["self"] as! Double }.reduce(0, +)
        let outer = inRange.filter { $0.depth == 0 }.map { s -> Double in
            let a = Double(s.start.nanoseconds - origin)
            return min(a + Double(s.duration.nanoseconds), span / 2) - max(a, span / 4)
        }.reduce(0, +)
        #expect(abs(selfTotal - outer) < 1e-6 * outer)
        let threads = try #require(json["threads"] as? [[String: Any]])
        #expect(threads.count == 3 && threads.allSatisfy { ($0["measured"] as? Bool) == false })
    }
}
