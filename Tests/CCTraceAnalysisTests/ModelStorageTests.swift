import CCTraceFormat
import Dispatch
import Testing

@testable import CCTraceAnalysis

/// The model's storage: interned slice names and the radix order the sweeps use.
@Suite struct ModelStorageTests {
    /// A slice keeps its name and category through the ids; equal names get equal ids, a name
    /// set on a slice reads back, and threads interning at once agree on every id.
    @Test func internedNamesRoundTripAndAgreeAcrossThreads() {
        let names = (0..<5_000).map { "name-\($0)-\(String(repeating: "x", count: $0 % 40))" }
        var ids = [UInt32](repeating: 0, count: names.count)
        ids.withUnsafeMutableBufferPointer { out in
            let buffer = UnsafeSendableBox(out)
            DispatchQueue.concurrentPerform(iterations: 4) { part in
                for i in stride(from: part, to: names.count, by: 4) { buffer.value[i] = InternedNames.id(names[i]) }
            }
        }
        for (i, name) in names.enumerated() {
            #expect(InternedNames.name(ids[i]) == name)
            #expect(InternedNames.id(name) == ids[i])
        }
        #expect(Set(ids).count == names.count)
        #expect(InternedNames.id("") == 0)
        var s = Slice(
            name: "HTTP.parseRequest", category: "io", start: TraceTimestamp(nanoseconds: 5),
            duration: TraceDuration(nanoseconds: 10), thread: 3, depth: 1, parent: 7,
            selfDuration: TraceDuration(nanoseconds: 4), threadDuration: nil, args: nil)
        #expect(s.name == "HTTP.parseRequest" && s.category == "io")
        #expect(s.nameID == InternedNames.id("HTTP.parseRequest"))
        s.name = "renamed ✓"
        #expect(s.name == "renamed ✓" && s.category == "io" && s.parent == 7 && s.thread == 3)
        #expect(MemoryLayout<Slice>.stride <= 72)
    }

    /// The memo computes once per distinct name (or pair), whatever the order slices come in.
    @Test func sliceNameMemoComputesOncePerDistinctKey() {
        var memo = SliceNameMemo<Int>()
        var calls = 0
        let slices = (0..<3_000).map { i in
            Slice(
                name: "n\(i % 300)", category: "c\(i % 7)", start: TraceTimestamp(nanoseconds: Int64(i)),
                duration: TraceDuration(nanoseconds: 1), thread: 0, depth: 0, parent: -1,
                selfDuration: TraceDuration(nanoseconds: 1), threadDuration: nil, args: nil)
        }
        for s in slices {
            let v = memo.value(s) { name, category in
                calls += 1
                return name.count * 100 + category.count
            }
            #expect(v == s.name.count * 100 + s.category.count)
        }
        // 300 names × 7 categories meet in lcm(300, 7) = 2100 pairs.
        #expect(calls == 2_100)
    }

    /// The radix sort gives the standard library's sorted keys and a stable comparison sort's
    /// order (``stableSort(_:)``, and ``stableOrder(of:)`` from it), for narrow, wide, negative
    /// and repeated keys.
    @Test func radixSortsMatchTheStandardSort() {
        var rng = SplitMix(seed: 42)
        let cases: [[Int64]] = [
            [],
            [7],
            (0..<20_000).map { _ in Int64(rng.next() % 97) },
            (0..<20_000).map { _ in Int64(bitPattern: rng.next()) },
            (0..<20_000).map { _ in Int64(rng.next() % 3_000_000_000) - 1_000_000_000 },
            [Int64.max, Int64.min, 0, 5, 5, Int64.max, -1, Int64.min],
        ]
        for keys in cases {
            let expected = keys.indices.sorted { (keys[$0], $0) < (keys[$1], $1) }
            let (sorted, order) = stableSort(keys)
            #expect(sorted == keys.sorted())
            #expect(order.map(Int.init) == expected)
            #expect(stableOrder(of: keys).map(Int.init) == expected)
        }
    }
}

extension ModelStorageTests {
    /// The pair column: one pair per distinct (name, category), every slice pointing at its
    /// own; `slices(where:)` finds exactly the slices a per-slice test would, in order, and none
    /// when no pair passes.
    @Test func sliceNamesFindWhatAPerSliceTestWould() {
        var rng = SplitMix(seed: 9)
        let names = ["read", "write", "lock wait", "pthread_cond_wait", "Handle._run"]
        let categories = ["app", "cctrace.lock", "cctrace.preload"]
        let slices = (0..<5000).map { i in
            Slice(
                name: names[Int(rng.next() % 5)], category: categories[Int(rng.next() % 3)],
                start: TraceTimestamp(nanoseconds: Int64(i) * 10), duration: TraceDuration(nanoseconds: 5), thread: 0,
                depth: 0, parent: -1, selfDuration: TraceDuration(nanoseconds: 5), threadDuration: nil, args: nil)
        }
        let index = SliceNames(slices: slices)
        #expect(index.pairCount == Set(slices.map { "\($0.name)\u{0}\($0.category)" }).count)
        let test: (String, String) -> Bool = { $1 == "cctrace.preload" && $0.hasPrefix("pthread_cond_") }
        let expected = slices.indices.filter { test(slices[$0].name, slices[$0].category) }
        #expect(!expected.isEmpty)
        #expect(index.slices(where: test) == expected)
        #expect(index.any(test))
        #expect(index.slices(where: { name, _ in name == "absent" }).isEmpty)
        #expect(!index.any { name, _ in name == "absent" })
        for i in slices.indices.shuffled().prefix(200) {
            let pair = Int(index.pairOf[i])
            let same = slices.indices.filter { Int(index.pairOf[$0]) == pair }
            #expect(same.allSatisfy { slices[$0].name == slices[i].name && slices[$0].category == slices[i].category })
        }
    }
}

private struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

private final class UnsafeSendableBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

extension ModelStorageTests {
    /// Many threads of nested calls (I/O, locks, IPC, queue gets, work): the classification in
    /// chunks of threads on every core finds what one pass over all the slices finds.
    @Test func classificationInChunksAgreesWithOnePass() throws {
        var rng = SplitMix(seed: 11)
        let calls = [
            "socket.recv", "time.sleep", "threading.Lock.acquire", "queue.Queue.get", "json.dumps", "compute",
            "recv_bytes", "pickle.loads", "lock wait",
        ]
        var events: [String] = []
        for tid in 1...24 {
            var ts = 0.0
            for _ in 0..<200 {
                let outer = calls[Int(rng.next() % UInt64(calls.count))]
                let inner = calls[Int(rng.next() % UInt64(calls.count))]
                let cat = outer == "lock wait" ? "cctrace.lock" : (outer == "recv_bytes" ? "cctrace.ipc" : "app")
                events.append(
                    #"{"ph":"X","name":"\#(outer)","cat":"\#(cat)","pid":\#(1 + tid % 3),"tid":\#(tid),"ts":\#(ts),"dur":100}"#
                )
                events.append(
                    #"{"ph":"X","name":"\#(inner)","cat":"app","pid":\#(1 + tid % 3),"tid":\#(tid),"ts":\#(ts + 10),"dur":50}"#
                )
                ts += 150
            }
        }
        let model = try TraceImporter.importTrace(bytes: Array(("[" + events.joined(separator: ",\n") + "]").utf8))
        let h = Heuristics()
        let facts = SliceClassification.modelOnly(model)
        let chunked = SliceClassification(model: model, heuristics: h, modelOnly: { facts })
        let whole = SliceClassification(model: model, heuristics: h, modelOnly: { facts }, chunked: false)
        #expect(chunked.kinds.contains { $0 != nil } && chunked.kinds.contains { $0 == nil })
        // Every IPC slice has its outermost IPC slice (found by its chunk, then put together).
        let ipc = chunked.kinds.indices.filter { chunked.kinds[$0] == .ipc }
        #expect(!ipc.isEmpty && ipc.allSatisfy { chunked.ipcRoot[$0] != nil })
        #expect(chunked.kinds == whole.kinds)
        #expect(chunked.childCount == whole.childCount)
        #expect(chunked.threadNamesInferred == whole.threadNamesInferred)
        #expect(chunked.ipcRoot == whole.ipcRoot)
        #expect(chunked.moved.mapValues { "\($0)" } == whole.moved.mapValues { "\($0)" })
        #expect(chunked.inferredLockWaits.map { "\($0)" } == whole.inferredLockWaits.map { "\($0)" })
    }

    /// The what-if's workload reads only what the CPU capping leaves as it is: built from the
    /// accounting before the capping (as the pipeline builds it, beside the capping), it is
    /// the workload built from the capped accounting — on a trace where the capping moves time.
    @Test func theWorkloadDoesNotDependOnTheCapping() throws {
        var events: [String] = []
        for tid in 1...4 {
            for j in 0..<20 {
                events.append(
                    #"{"ph":"X","name":"compute","cat":"app","pid":1,"tid":\#(tid),"ts":\#(Double(j) * 12_000),"dur":10000}"#
                )
                events.append(
                    #"{"ph":"X","name":"socket.recv","cat":"app","pid":1,"tid":\#(tid),"ts":\#(Double(j) * 12_000 + 10_000),"dur":1000}"#
                )
            }
        }
        let model = try TraceImporter.importTrace(bytes: Array(("[" + events.joined(separator: ",\n") + "]").utf8))
        var options = AnalysisOptions()
        options.assumedCores = 2
        let h = options.heuristics
        let cores = CoreCount.resolve(model, options: options)
        let c = SliceClassification(model: model, heuristics: h)
        let (uncapped, capping) = Accounting.uncapped(model: model, classification: c, cores: cores, heuristics: h)
        var capped = uncapped
        capped.cap(capping)
        #expect(capped.threads.contains { $0.overCapacity > 0 }, "four threads computing on two cores")
        #expect(capped.threads.map(\.thread) == uncapped.threads.map(\.thread))
        let window = WorkWindow(model: model, classification: c, accounting: uncapped, cores: cores, heuristics: h)
        var cappedWindow = window
        cappedWindow.capped(by: capped)
        let fresh = WorkWindow(model: model, classification: c, accounting: capped, cores: cores, heuristics: h)
        #expect(cappedWindow.parallelism == fresh.parallelism && cappedWindow.parallelism > 0)
        #expect(cappedWindow.workers.map(\.split.running) == fresh.workers.map(\.split.running))
        func describe(_ w: Workload) -> [String] {
            w.tracks.map { t in "\(t.thread) \(t.steps) \(t.items.map { "\($0.release) \($0.arrived) \($0.steps)" })" }
        }
        let before = Workload(
            model: model, classification: c, accounting: uncapped, workWindow: window, loops: [], heuristics: h)
        let after = Workload(
            model: model, classification: c, accounting: capped, workWindow: fresh, loops: [], heuristics: h)
        #expect(!before.tracks.isEmpty)
        #expect(describe(before) == describe(after))
    }

    /// The workload walks a thread's slices in index order and checks that order as it goes:
    /// a model whose threads hold their spans out of time order (other tools', a merge) is
    /// walked again sorted, and gives the workload of the same spans in order.
    @Test func theWorkloadOfSlicesOutOfOrderIsTheWorkloadInOrder() throws {
        var events: [String] = []
        for tid in 1...3 {
            for j in 0..<30 {
                let ts = Double(j) * 10_000
                events.append(
                    #"{"ph":"X","name":"handle","cat":"app","pid":1,"tid":\#(tid),"ts":\#(ts),"dur":8000}"#)
                events.append(
                    #"{"ph":"X","name":"socket.recv","cat":"app","pid":1,"tid":\#(tid),"ts":\#(ts + 500),"dur":\#(1000 + j * 50)}"#
                )
                events.append(
                    #"{"ph":"X","name":"compute","cat":"app","pid":1,"tid":\#(tid),"ts":\#(ts + 2000),"dur":4000}"#)
            }
        }
        let model = try TraceImporter.importTrace(bytes: Array(("[" + events.joined(separator: ",\n") + "]").utf8))
        // The same spans with each thread's top-level subtrees in reverse order: parents still
        // come before their children, time order is broken.
        var permuted = model
        var newIndex = [Int](repeating: 0, count: model.slices.count)
        for thread in model.threads where !thread.sliceRange.isEmpty {
            var blocks: [Range<Int>] = []
            for i in thread.sliceRange where model.slices[i].parent < 0 {
                if let last = blocks.last { blocks[blocks.count - 1] = last.lowerBound..<i }
                blocks.append(i..<thread.sliceRange.upperBound)
            }
            var next = thread.sliceRange.lowerBound
            for block in blocks.reversed() {
                for i in block {
                    newIndex[i] = next
                    next += 1
                }
            }
        }
        for i in model.slices.indices {
            var s = model.slices[i]
            s.parent = s.parent >= 0 ? newIndex[s.parent] : -1
            permuted.slices[newIndex[i]] = s
        }
        #expect(permuted.slices.map(\.start) != model.slices.map(\.start))
        let h = Heuristics()
        let cores = CoreCount.resolve(model, options: AnalysisOptions())
        func workload(_ m: TraceModel) -> [String] {
            let c = SliceClassification(model: m, heuristics: h)
            let (a, _) = Accounting.uncapped(model: m, classification: c, cores: cores, heuristics: h)
            let window = WorkWindow(model: m, classification: c, accounting: a, cores: cores, heuristics: h)
            let w = Workload(model: m, classification: c, accounting: a, workWindow: window, loops: [], heuristics: h)
            return w.tracks.map { t in
                "\(t.thread) \(t.steps) \(t.items.map { "\($0.release) \($0.arrived) \($0.steps)" })"
            }
        }
        let inOrder = workload(model)
        #expect(inOrder.count == 3)
        #expect(workload(permuted) == inOrder)
    }

    /// The importer finds the names index beside its own serial work; the model hands it out
    /// only while its slices are the array it was found from — a changed slice copies that
    /// array, and the index is found again from the new one.
    @Test func theImportersNamesIndexIsOnlyUsedForItsSlices() throws {
        let events = (0..<50).map { i in
            #"{"ph":"X","name":"\#(i % 2 == 0 ? "read" : "compute")","cat":"app","pid":1,"tid":1,"ts":\#(i * 10),"dur":5}"#
        }
        let model = try TraceImporter.importTrace(bytes: Array(("[" + events.joined(separator: ",\n") + "]").utf8))
        let found = try #require(model.foundNames)
        #expect(model.sliceNames().pairOf == found.names.pairOf)
        #expect(found.names.pairCount == 2)
        var changed = model
        changed.slices[0].name = "renamed"
        let names = changed.sliceNames()
        #expect(names.pairCount == 3)
        #expect(names.pairOf == SliceNames(slices: changed.slices).pairOf)
        #expect(names.pairOf != found.names.pairOf)
        // The original model still reads its own index.
        #expect(model.sliceNames().pairCount == 2)
    }

    /// Spans inside a span of their kind that start no unit are not walked: the workload is the
    /// one every span's walk gives — on threads that nest work in work and waits in waits,
    /// whose units are top-level spans or the children of one dominant span, with a child that
    /// runs past its parent's end and a process start-up.
    @Test func theWorkloadSkipsOnlySpansThatChangeNoStep() throws {
        var rng = SplitMix(seed: 5)
        var events: [String] = []
        func span(_ name: String, _ tid: Int, _ ts: Int, _ dur: Int) {
            events.append(#"{"ph":"X","name":"\#(name)","cat":"app","pid":1,"tid":\#(tid),"ts":\#(ts),"dur":\#(dur)}"#)
        }
        let names = ["compute", "parse", "socket.recv", "time.sleep", "queue.Queue.get", "json.dumps"]
        for tid in 1...4 {
            // Thread 4: one dominant span everything nests under (its children are the units).
            if tid == 4 { span("main", tid, 0, 90_010) }
            var ts = 10
            for _ in 0..<60 {
                let outer = names[Int(rng.next() % UInt64(names.count))]
                span(outer, tid, ts, 900)
                var inner = ts + 50
                for _ in 0..<3 {
                    let name = names[Int(rng.next() % UInt64(names.count))]
                    span(name, tid, inner, 200)
                    span(names[Int(rng.next() % UInt64(names.count))], tid, inner + 20, 100)
                    inner += 250
                }
                // A child that runs past its parent's end (nested under it by the importer).
                if rng.next() % 4 == 0 { span("compute", tid, ts + 800, 300) }
                ts += 1500
            }
        }
        events.append(
            #"{"ph":"X","name":"\#(TraceVocabulary.Event.processStart.string)","cat":"\#(TraceCategory.process.rawValue)","pid":1,"tid":2,"ts":0,"dur":5}"#
        )
        let model = try TraceImporter.importTrace(bytes: Array(("[" + events.joined(separator: ",\n") + "]").utf8))
        let h = Heuristics()
        let cores = CoreCount.resolve(model, options: AnalysisOptions())
        let c = SliceClassification(model: model, heuristics: h)
        let (a, _) = Accounting.uncapped(model: model, classification: c, cores: cores, heuristics: h)
        let window = WorkWindow(model: model, classification: c, accounting: a, cores: cores, heuristics: h)
        func describe(_ w: Workload) -> [String] {
            w.tracks.map { t in
                "\(t.thread) \(t.startup) \(t.steps) \(t.items.map { "\($0.release) \($0.arrived) \($0.steps)" })"
            }
        }
        let skipped = Workload(
            model: model, classification: c, accounting: a, workWindow: window, loops: [], heuristics: h)
        let walked = Workload(
            model: model, classification: c, accounting: a, workWindow: window, loops: [], heuristics: h,
            skipping: false)
        #expect(walked.tracks.count == 4)
        #expect(walked.tracks.allSatisfy { $0.items.count > 1 })
        #expect(describe(skipped) == describe(walked))
    }

    /// The unit parent's pass counts the top-level spans as units on the way: the count the
    /// program's shape would make of them (generator resumes left out, base names distinct).
    @Test func theUnitParentsPassCountsTheTopLevelUnits() throws {
        var events: [String] = []
        let names = ["handle", "handle", "<genexpr>", "Worker.run", "json.dumps"]
        for tid in 1...3 {
            for j in 0..<40 {
                let name = names[(j * tid) % names.count]
                events.append(
                    #"{"ph":"X","name":"\#(name)","cat":"app","pid":1,"tid":\#(tid),"ts":\#(j * 100),"dur":\#(50 + j)}"#
                )
                events.append(
                    #"{"ph":"X","name":"socket.recv","cat":"app","pid":1,"tid":\#(tid),"ts":\#(j * 100 + 5),"dur":20}"#)
            }
        }
        let model = try TraceImporter.importTrace(bytes: Array(("[" + events.joined(separator: ",\n") + "]").utf8))
        let c = SliceClassification(model: model, heuristics: Heuristics())
        for thread in model.threads where !thread.sliceRange.isEmpty {
            var tally = ProgramShape.UnitTally()
            let parent = ProgramShape.unitParent(
                of: thread.sliceRange, slices: model.slices, c: c, heuristics: Heuristics(), topLevel: &tally)
            #expect(parent == -1)
            let counted = ProgramShape.units(of: thread.sliceRange, parent: -1, slices: model.slices)
            #expect(counted.count > 0 && counted.count < 40, "generator resumes are not units")
            #expect("\(tally.units)" == "\(counted)")
        }
    }
}
