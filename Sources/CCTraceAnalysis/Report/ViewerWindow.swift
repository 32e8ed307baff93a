/// The viewer's slices sent on demand, for traces too big to send whole (see
/// ``ViewerData/wholeDocumentSliceLimit``): the document then carries everything but the slices,
/// and the page asks for the slices of the time window and threads it shows, at the resolution
/// it draws them.
///
/// A window answer (`GET data/window?t0=&t1=&npp=&threads=`):
/// ```
/// {"t0","t1","npp","full":true|false,"candidates":N,"strings":[…],
///  "threads":[{"thread":i,"first":k,"end":k2}],      // entries[first..<end], by start
///  "index":[…],"start":[…],"dur":[…],"depth":[…],"name":[…],"kind":[…],"merged":[…]}
/// ```
/// `index` is each entry's slice in the whole model (what details, findings and search name);
/// `name` indexes the answer's own `strings`. A *full* answer holds every slice of those threads
/// that overlaps [t0, t1) — chosen when there are at most `full` of them (or demanded with
/// `full=force`, up to a cap), and good at any zoom inside the window. Otherwise the answer is
/// at level of detail for `npp` nanoseconds per pixel: slices a pixel or wider as they are
/// (rows 0 to 15, what the page draws), and on each row a run of adjacent narrower ones of one
/// kind as one `merged` entry named by its first slice — the rule the page's own level of
/// detail applies, so it draws the same picture from a few thousand entries per thread instead
/// of every slice.
public final class ViewerSlices: @unchecked Sendable {
    // @unchecked: every stored property is a constant, set in init; the server reads them only.
    let model: TraceModel
    /// Each slice's kind (as ``ViewerData`` writes it).
    let kinds: [UInt8]
    /// Each thread's longest slice, in ns (how far before a window a slice can start and reach it).
    let maxDuration: [Int64]
    let origin: Int64
    /// The largest name id of a slice.
    let maxNameID: UInt32
    /// Rows the page draws per thread (its `MAX_ROWS`).
    static let rows = 16

    /// The slices of `model`, kinds from `report`'s classification.
    public init(model: TraceModel, report: AnalysisReport) {
        self.model = model
        origin = model.bounds.lowerBound.nanoseconds
        kinds = ViewerData.kinds(model: model, report: report)
        var longest = [Int64](repeating: 0, count: model.threads.count)
        for (t, info) in model.threads.enumerated() {
            var m: Int64 = 0
            for i in info.sliceRange { m = max(m, model.slices[i].duration.nanoseconds) }
            longest[t] = m
        }
        maxDuration = longest
        maxNameID = model.slices.reduce(0) { max($0, $1.nameID) }
    }

    /// What a window request asks for.
    public struct Request: Sendable {
        /// Where the window begins, in ns from the trace's start.
        public var t0: Double
        /// Where it ends (exclusive), in ns from the trace's start.
        public var t1: Double
        /// Nanoseconds per pixel of the level of detail.
        public var nsPerPixel: Double
        /// Thread indexes (nil: all).
        public var threads: [Int]?
        /// A full answer when at most this many slices overlap the window. By default 200,000:
        /// ≈ 6 MB of JSON (≈ 33 bytes an entry in the 10M-event trace's windows), about what a
        /// window at level of detail of a dense view holds — and a full window stays good at
        /// every zoom inside it, with no further request.
        public var fullLimit: Int
        /// A full answer whatever the count, up to `fullCap`; above it an error answer.
        public var forceFull: Bool
        /// Most slices a demanded full answer holds.
        public var fullCap: Int

        /// A request; by default for every thread, full when at most 200,000 slices overlap.
        public init(
            t0: Double, t1: Double, nsPerPixel: Double, threads: [Int]? = nil, fullLimit: Int = 200_000,
            forceFull: Bool = false, fullCap: Int = ViewerSlices.forcedFullCap
        ) {
            self.fullCap = fullCap
            self.t0 = t0
            self.t1 = t1
            self.nsPerPixel = nsPerPixel
            self.threads = threads
            self.fullLimit = fullLimit
            self.forceFull = forceFull
        }
    }

    /// Most slices a demanded full answer holds (the page computes a range's statistics from
    /// them): ≈ 75 MB of JSON, a few seconds to parse. A wider range gets an error answer
    /// naming the count, and the page asks for a narrower one.
    public static let forcedFullCap = 3_000_000

    /// The candidate slices of thread `t` for [t0, t1): those starting before t1 and no earlier
    /// than the thread's longest slice before t0 (the caller skips those ending before t0).
    func candidates(thread t: Int, t0: Int64, t1: Int64) -> Range<Int> {
        let range = model.threads[t].sliceRange
        let from = lowerBound(range, origin &+ t0 &- maxDuration[t])
        let to = lowerBound(from..<range.upperBound, origin &+ t1)
        return from..<to
    }

    /// First index in `range` whose slice starts at or after `time` (absolute ns).
    func lowerBound(_ range: Range<Int>, _ time: Int64) -> Int {
        var lo = range.lowerBound
        var hi = range.upperBound
        model.slices.withUnsafeBufferPointer { s in
            while lo < hi {
                let mid = (lo + hi) >> 1
                if s[mid].start.nanoseconds < time { lo = mid + 1 } else { hi = mid }
            }
        }
        return lo
    }

    /// The answer to `request` as JSON (see the type's documentation).
    public func window(_ request: Request) -> [UInt8] {
        let t0 = Int64(max(-9e18, min(9e18, request.t0.rounded(.down))))
        let t1 = Int64(max(-9e18, min(9e18, request.t1.rounded(.up))))
        let threads = (request.threads ?? Array(model.threads.indices)).filter { $0 >= 0 && $0 < model.threads.count }
        let ranges = threads.map { candidates(thread: $0, t0: t0, t1: t1) }
        let count = ranges.reduce(0) { $0 + $1.count }
        let full = request.forceFull || count <= request.fullLimit
        if request.forceFull && count > request.fullCap {
            var w = FastJSON()
            w.raw("{\"error\":\"too many slices\",\"candidates\":")
            w.int(Int64(count))
            w.raw(",\"cap\":")
            w.int(Int64(request.fullCap))
            w.raw("}")
            return w.bytes
        }
        var entries = Entries()
        var threadRanges: [(Int, Int, Int)] = []
        let npp = request.nsPerPixel.isFinite && request.nsPerPixel > 0 ? request.nsPerPixel : 1
        for (k, t) in threads.enumerated() {
            let first = entries.count
            if full {
                fullEntries(ranges[k], t0: t0, into: &entries)
            } else {
                detailEntries(ranges[k], t0: t0, npp: npp, into: &entries)
            }
            threadRanges.append((t, first, entries.count))
        }
        var w = FastJSON()
        w.raw("{\"t0\":")
        w.int(t0)
        w.raw(",\"t1\":")
        w.int(t1)
        w.raw(",\"npp\":")
        w.double(npp)
        w.raw(full ? ",\"full\":true" : ",\"full\":false")
        w.raw(",\"candidates\":")
        w.int(Int64(count))
        w.raw(",\"strings\":[")
        for (i, id) in entries.names.enumerated() {
            if i > 0 { w.raw(",") }
            w.string(InternedNames.name(id))
        }
        w.raw("],\"threads\":[")
        for (i, (t, first, end)) in threadRanges.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"thread\":")
            w.int(Int64(t))
            w.raw(",\"first\":")
            w.int(Int64(first))
            w.raw(",\"end\":")
            w.int(Int64(end))
            w.raw("}")
        }
        w.raw("]")
        w.column("index", entries.index)
        w.column("start", entries.start)
        w.column("dur", entries.duration)
        w.column("depth", entries.depth)
        w.column("name", entries.name)
        w.column("kind", entries.kind)
        if !full { w.column("merged", entries.merged) }
        w.raw("}")
        return w.bytes
    }

    /// The window's entries, columnar; names interned into the answer's own table.
    struct Entries {
        var index: [Int32] = []
        var start: [Int64] = []
        var duration: [Int64] = []
        var depth: [Int32] = []
        var name: [Int32] = []
        var kind: [UInt8] = []
        var merged: [UInt8] = []
        var names: [UInt32] = []
        var nameIndex: [UInt32: Int32] = [:]
        var count: Int { index.count }

        mutating func local(_ id: UInt32) -> Int32 {
            if let i = nameIndex[id] { return i }
            let i = Int32(names.count)
            names.append(id)
            nameIndex[id] = i
            return i
        }

        mutating func append(
            index i: Int, start s: Int64, duration d: Int64, depth: Int, nameID: UInt32, kind k: UInt8, merged m: Bool
        ) {
            index.append(Int32(truncatingIfNeeded: i))
            start.append(s)
            duration.append(d)
            self.depth.append(Int32(truncatingIfNeeded: depth))
            name.append(local(nameID))
            kind.append(k)
            merged.append(m ? 1 : 0)
        }
    }

    /// Every candidate that reaches t0, all depths.
    func fullEntries(_ range: Range<Int>, t0: Int64, into e: inout Entries) {
        model.slices.withUnsafeBufferPointer { s in
            for i in range {
                let slice = s[i]
                let start = slice.start.nanoseconds &- origin
                guard start &+ slice.duration.nanoseconds >= t0 else { continue }
                e.append(
                    index: i, start: start, duration: slice.duration.nanoseconds, depth: slice.depth,
                    nameID: slice.nameID, kind: kinds[i], merged: false)
            }
        }
    }

    /// The candidates at level of detail: the page's rule (a slice inside a pixel column already
    /// drawn on its row adds nothing; one narrower than a pixel is drawn over its whole columns),
    /// with runs of adjacent narrow ones of one kind on a row sent as one merged entry.
    func detailEntries(_ range: Range<Int>, t0: Int64, npp: Double, into e: inout Entries) {
        let rows = Self.rows
        var lastPixel = [Double](repeating: -.infinity, count: rows)
        // An open run per row: first slice, kind, the pixel column it reaches, and its members'
        // first start and last end (exact times: the page then finds the pixel columns the
        // members themselves would have covered).
        var runSlice = [Int](repeating: -1, count: rows)
        var runKind = [UInt8](repeating: 0, count: rows)
        var runTo = [Double](repeating: 0, count: rows)
        var runStart = [Int64](repeating: 0, count: rows)
        var runEnd = [Int64](repeating: 0, count: rows)
        let first = e.count
        func flush(_ d: Int) {
            let i = runSlice[d]
            guard i >= 0 else { return }
            e.append(
                index: i, start: runStart[d], duration: runEnd[d] - runStart[d], depth: d,
                nameID: model.slices[i].nameID,
                kind: runKind[d], merged: true)
            runSlice[d] = -1
        }
        model.slices.withUnsafeBufferPointer { s in
            for i in range {
                let slice = s[i]
                let start = slice.start.nanoseconds &- origin
                let end = start &+ slice.duration.nanoseconds
                guard end >= t0 else { continue }
                let d = slice.depth
                guard d < rows else { continue }
                let x0 = Double(start - t0) / npp
                let x1 = Double(end - t0) / npp
                let px0 = x0.rounded(.down)
                let px1 = max(px0 + 1, x1.rounded(.up))
                guard px1 > lastPixel[d] else { continue }
                let from = max(px0, lastPixel[d])
                lastPixel[d] = px1
                let kind = kinds[i]
                if x1 - x0 < 1 {
                    if runSlice[d] >= 0, runKind[d] == kind, from <= runTo[d] + 1 {
                        runTo[d] = max(runTo[d], px1)
                        runEnd[d] = max(runEnd[d], end)
                        continue
                    }
                    flush(d)
                    runSlice[d] = i
                    runKind[d] = kind
                    runTo[d] = px1
                    runStart[d] = start
                    runEnd[d] = end
                    continue
                }
                // A run never spans a slice drawn whole on its row.
                flush(d)
                e.append(
                    index: i, start: start, duration: slice.duration.nanoseconds, depth: d, nameID: slice.nameID,
                    kind: kind, merged: false)
            }
        }
        for d in 0..<rows { flush(d) }
        // Runs were written when they ended: put the thread's entries back in start order.
        e.sortByStart(from: first)
    }

    /// Slices whose name contains `query` (case-insensitive), at most `limit` in index order
    /// (the page's own search rule), then by start: `{"count","index","start","dur","depth"}`.
    public func search(_ query: String, limit: Int = 10_000) -> [UInt8] {
        let q = String(query.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed()).lowercased()
        var found: [Int] = []
        if !q.isEmpty {
            var memo = SliceNameMemo<Bool>()
            for (i, s) in model.slices.enumerated() where memo.value(name: s, { $0.lowercased().contains(q) }) {
                found.append(i)
                if found.count >= limit { break }
            }
        }
        // By start, then index: the page's stable sort of index order.
        found.sort {
            let a = model.slices[$0].start.nanoseconds
            let b = model.slices[$1].start.nanoseconds
            return a != b ? a < b : $0 < $1
        }
        var w = FastJSON()
        w.raw("{\"count\":")
        w.int(Int64(found.count))
        w.column("index", found.map { Int32($0) })
        w.column("start", found.map { model.slices[$0].start.nanoseconds - origin })
        w.column("dur", found.map { model.slices[$0].duration.nanoseconds })
        w.column("depth", found.map { Int32(model.slices[$0].depth) })
        w.raw("}")
        return w.bytes
    }

    /// How busy the threads were over the whole trace in `bins` columns (the minimap): per
    /// column, the threads' outermost slices' time divided by the column's width.
    func activity(bins: Int) -> [Double] {
        var out = [Double](repeating: 0, count: bins)
        let total = max(1, Double(model.duration.nanoseconds))
        let width = total / Double(bins)
        for s in model.slices where s.depth == 0 {
            var a = Double(s.start.nanoseconds - origin)
            let b = a + Double(s.duration.nanoseconds)
            var bin = max(0, Int(a / width))
            while a < b && bin < bins {
                let edge = Double(bin + 1) * width
                out[bin] += (min(b, edge) - a) / width
                a = edge
                bin += 1
            }
        }
        return out
    }
}

extension ViewerSlices.Entries {
    /// Entries from `first` on reordered by start (stable: equal starts keep their order).
    mutating func sortByStart(from first: Int) {
        let n = count - first
        guard n > 1 else { return }
        var order = Array(first..<count)
        let s = start
        order.sort { s[$0] != s[$1] ? s[$0] < s[$1] : $0 < $1 }
        func permute<T>(_ column: inout [T]) {
            let old = Array(column[first...])
            for (k, j) in order.enumerated() { column[first + k] = old[j - first] }
        }
        permute(&index)
        permute(&start)
        permute(&duration)
        permute(&depth)
        permute(&name)
        permute(&kind)
        permute(&merged)
    }
}

extension FastJSON {
    /// `,"key":[v,…]`.
    mutating func column<T: BinaryInteger>(_ key: String, _ values: [T]) {
        raw(",\"")
        raw(key)
        raw("\":[")
        for (i, v) in values.enumerated() {
            if i > 0 { raw(",") }
            int(Int64(v))
        }
        raw("]")
    }
}

extension ViewerSlices {
    /// What happened in [t0, t1) (ns from the trace's start), as the page's `rangeStats`
    /// computes it from the whole trace — the same JSON, the same arithmetic in the same order
    /// (so the figures are equal to the last bit): per thread its CPU states and its time in
    /// waits, the top slice names by self time, lock waits and IPC per thread. For a trace sent
    /// on demand, whose page does not hold every slice of a wide range.
    public func rangeStatistics(t0: Double, t1: Double, top: Int = 12) -> [UInt8] {
        struct ThreadFigures {
            var thread: Int, running: Double, runnable: Double, blocked: Double, idle: Double, measured: Bool
            var waiting: Double
        }
        struct Total { var thread: Int, total: Double, count: Int }
        let slices = model.slices
        let o = Double(origin)
        func start(_ i: Int) -> Double { Double(slices[i].start.nanoseconds - origin) }
        func duration(_ i: Int) -> Double { Double(slices[i].duration.nanoseconds) }
        func overlap(_ a0: Double, _ a1: Double, _ b0: Double, _ b1: Double) -> Double {
            max(0, min(a1, b1) - max(a0, b0))
        }
        // The page's CPU band values: shares with three decimals, as the document writes them.
        func share(_ v: Double) -> Double { (v.isFinite ? max(0, min(1, v)) * 1000 : 0).rounded() / 1000 }
        var threads: [ThreadFigures] = []
        // Self time per name id, in the order names were first met (the page's Map order).
        var slot = [Int32](repeating: -1, count: Int(maxNameID) + 1)
        var selfTimes: [Double] = []
        var nameOrder: [UInt32] = []
        func addSelf(_ name: UInt32, _ v: Double) {
            let k = Int(slot[Int(name)])
            if k >= 0 {
                selfTimes[k] += v
            } else {
                slot[Int(name)] = Int32(selfTimes.count)
                selfTimes.append(0 + v)
                nameOrder.append(name)
            }
        }
        // Waits by kind: lock wait, IPC, I/O wait, waiting for a result.
        func isWait(_ k: UInt8) -> Bool { k == 1 || k == 4 || k == 7 || k == 8 }
        var locks: [Total] = []
        var ipcs: [Total] = []
        var lockTotal = 0.0
        var lockCount = 0
        var ipcTotal = 0.0
        var ipcCount = 0
        for (ti, info) in model.threads.enumerated() {
            let range = info.sliceRange
            let top = range.filter { slices[$0].depth == 0 }
            // busyTime: the outermost slices' time inside [a, b).
            func busy(_ a: Double, _ b: Double) -> Double {
                var lo = 0
                var hi = top.count
                while lo < hi {
                    let mid = (lo + hi) >> 1
                    if start(top[mid]) < a { lo = mid + 1 } else { hi = mid }
                }
                var sum = 0.0
                var k = max(0, lo - 1)
                while k < top.count {
                    let i = top[k]
                    if start(i) >= b { break }
                    sum += overlap(start(i), start(i) + duration(i), a, b)
                    k += 1
                }
                return sum
            }
            // cpuStates.
            var running = 0.0
            var runnable = 0.0
            var blocked = 0.0
            var idle = 0.0
            let span = max(0, t1 - t0)
            let samples = info.cpu?.samples ?? []
            let measured = !samples.isEmpty
            if !measured {
                let b = busy(t0, t1)
                blocked = b
                idle = span - b
            } else {
                let cs = samples.map { Double($0.start.nanoseconds) - o }
                let ce = samples.map { Double($0.end.nanoseconds) - o }
                var lo = 0
                var hi = cs.count
                while lo < hi {
                    let mid = (lo + hi) >> 1
                    if cs[mid] < t0 { lo = mid + 1 } else { hi = mid }
                }
                var covered = 0.0
                var k = max(0, lo - 1)
                while k < cs.count && cs[k] < t1 {
                    defer { k += 1 }
                    let ov = overlap(cs[k], ce[k], t0, t1)
                    if ov <= 0 { continue }
                    covered += ov
                    let run = ov * share(samples[k].running)
                    let rq = ov * share(samples[k].runnable)
                    running += run
                    runnable += rq
                    let rest = ov - run - rq
                    let b = min(ov, busy(max(cs[k], t0), min(ce[k], t1)))
                    let bl = max(0, min(rest, b - run - rq))
                    blocked += bl
                    idle += rest - bl
                }
                idle += max(0, span - covered)
            }
            // The thread's slices in the range.
            let from = lowerBound(
                range, origin &+ Int64(max(-9e18, min(9e18, (t0 - Double(maxDuration[ti])).rounded(.up)))))
            let to = lowerBound(from..<range.upperBound, origin &+ Int64(max(-9e18, min(9e18, t1.rounded(.up)))))
            var lock = 0.0
            var lockN = 0
            var ipc = 0.0
            var ipcN = 0
            var waiting = 0.0
            for i in from..<to {
                let inside = overlap(start(i), start(i) + duration(i), t0, t1)
                if inside <= 0 { continue }
                let k = kinds[i]
                if isWait(k) {
                    var nested = false
                    var p = slices[i].parent
                    while p >= 0 && !nested {
                        nested = isWait(kinds[p])
                        p = slices[p].parent
                    }
                    if !nested { waiting += inside }
                }
                addSelf(slices[i].nameID, inside)
                let p = slices[i].parent
                if p >= 0 { addSelf(slices[p].nameID, -inside) }
                if k == 1 {
                    lock += inside
                    lockN += 1
                }
                if k == 4 {
                    ipc += inside
                    ipcN += 1
                }
            }
            if running + runnable + blocked > 0 || lock > 0 || ipc > 0 {
                threads.append(
                    ThreadFigures(
                        thread: ti, running: running, runnable: runnable, blocked: blocked, idle: idle,
                        measured: measured, waiting: waiting))
            }
            if lockN > 0 { locks.append(Total(thread: ti, total: lock, count: lockN)) }
            if ipcN > 0 { ipcs.append(Total(thread: ti, total: ipc, count: ipcN)) }
            lockTotal += lock
            lockCount += lockN
            ipcTotal += ipc
            ipcCount += ipcN
        }
        // Stable sorts, as the page's.
        threads = threads.enumerated().sorted {
            let a = $0.element.running + $0.element.runnable + $0.element.blocked
            let b = $1.element.running + $1.element.runnable + $1.element.blocked
            return a != b ? a > b : $0.offset < $1.offset
        }.map(\.element)
        func byTotal(_ list: [Total]) -> [Total] {
            list.enumerated().sorted {
                $0.element.total != $1.element.total ? $0.element.total > $1.element.total : $0.offset < $1.offset
            }
            .map(\.element)
        }
        let named = nameOrder.indices.filter { selfTimes[$0] > 0 }.sorted {
            selfTimes[$0] != selfTimes[$1] ? selfTimes[$0] > selfTimes[$1] : $0 < $1
        }.prefix(top)

        var w = FastJSON()
        func label(_ t: Int) {
            let info = model.threads[t]
            w.raw("\"thread\":")
            w.int(Int64(t))
            w.raw(",\"name\":")
            w.string(info.name ?? "tid \(info.tid)")
            w.raw(",\"tid\":")
            w.int(info.tid)
        }
        func totals(_ key: String, _ total: Double, _ count: Int, _ list: [Total]) {
            w.raw(",\"\(key)\":{\"total\":")
            w.double(total)
            w.raw(",\"count\":")
            w.int(Int64(count))
            w.raw(",\"threads\":[")
            for (k, x) in byTotal(list).enumerated() {
                if k > 0 { w.raw(",") }
                w.raw("{")
                label(x.thread)
                w.raw(",\"total\":")
                w.double(x.total)
                w.raw(",\"count\":")
                w.int(Int64(x.count))
                w.raw("}")
            }
            w.raw("]}")
        }
        w.raw("{\"t0\":")
        w.double(t0)
        w.raw(",\"t1\":")
        w.double(t1)
        w.raw(",\"threads\":[")
        for (k, t) in threads.enumerated() {
            if k > 0 { w.raw(",") }
            w.raw("{")
            label(t.thread)
            for (key, v) in [
                ("running", t.running), ("runnable", t.runnable), ("blocked", t.blocked), ("idle", t.idle),
            ] {
                w.raw(",\"\(key)\":")
                w.double(v)
            }
            w.raw(t.measured ? ",\"measured\":true" : ",\"measured\":false")
            w.raw(",\"waiting\":")
            w.double(t.waiting)
            w.raw("}")
        }
        w.raw("],\"slices\":[")
        for (k, n) in named.enumerated() {
            if k > 0 { w.raw(",") }
            w.raw("{\"name\":")
            w.string(InternedNames.name(nameOrder[n]))
            w.raw(",\"self\":")
            w.double(selfTimes[n])
            w.raw("}")
        }
        w.raw("]")
        totals("locks", lockTotal, lockCount, locks)
        totals("ipc", ipcTotal, ipcCount, ipcs)
        w.raw("}")
        return w.bytes
    }
}
