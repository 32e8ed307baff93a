import CCTraceFormat

/// The imported model as the web viewer draws it: one JSON document with columnar arrays
/// (times in integer nanoseconds from the trace's start, names as indexes into `strings`), so a
/// million slices parse in a few hundred milliseconds and sit in typed arrays — plus the
/// report's recommendation and findings. The viewer never re-implements the importer.
///
/// ```
/// {"version":1,"start_ns":…,"duration_ns":…,"strings":[…],
///  "processes":[{"pid","name","threads":[i…]}],
///  "threads":[{"pid","tid","name","first","end","max_depth",
///              "cpu":{"t":[…],"e":[…],"run":[…],"rq":[…]}?}],  // slices[first..<end]
///  "slices":{"start":[…],"dur":[…],"depth":[…],"name":[…],"kind":[…],"category":[…]?},
///  "async":{"pid":[…],"track":[…],"start":[…],"dur":[…],"depth":[…],"name":[…]},
///  "async_tracks":[{"pid","name","kind","parent"}],  // kind: async|task|span|actor; parent: a track or -1
///  "counters":[{"pid","name","t":[…],"v":[…]}],
///  "flows":{"from_thread":[…],"from_t":[…],"to_thread":[…],"to_t":[…],"kind":[…]},
///  "frames":{"name":[…],"parent":[…]},                 // the sampled stacks as a tree
///  "samples":{"t":[…],"thread":[…],"frame":[…]},      // frame: the innermost node or -1
///  "args":{"<slice>":{…}}?,                          // only in a self-contained file
///  "report":{…`cctrace report --format json`…},
///  "compare":{…another document…}?, "diff":{…`cctrace diff --format json`…}?}
/// ```
///
/// Slice kinds: 0 work, 1 lock wait, 2 lock hold, 3 loop callback/tick, 4 IPC, 5 task run,
/// 6 process, 7 I/O wait (by name), 8 waiting for a result (by name).
///
/// Per-thread CPU readings (`cctrace.cpu` counters) arrive as each thread's `cpu` band, not as
/// counters. Swift actor runs (`actor <Type>` jobs) get a lane per actor; traced tasks know
/// their parent task's lane (the task tree), distributed-tracing spans their parent span's.
public enum ViewerData {
    /// Most slices whose `args` a self-contained file embeds, and their most bytes.
    public static let embeddedArgumentLimit = (slices: 50_000, bytes: 16 << 20)

    /// Most slices `cctrace view` sends in the document; above it the page asks for the slices
    /// it shows (``ViewerSlices``). The document costs ≈ 23 bytes per slice, and the page parses
    /// it before drawing anything: 2 M slices are ≈ 50 MB and a second or two of parsing, while
    /// 10 M took 13 s to the first view (`viewer/test/bench.py`).
    public static let wholeDocumentSliceLimit = 2_000_000

    /// Each slice's kind (see the type's documentation), by index.
    static func kinds(model: TraceModel, report: AnalysisReport) -> [UInt8] {
        let profile = report.profile.sliceKinds
        var memo = SliceNameMemo<Int>()
        var out = [UInt8](repeating: 0, count: model.slices.count)
        for (i, s) in model.slices.enumerated() {
            // By category and name first (-1: neither decides, the classification does).
            let base = memo.value(s) { name, category in recordedKind(name: name, category: category) ?? -1 }
            out[i] = UInt8(base >= 0 ? base : kind(profileKind: i < profile.count ? profile[i] : nil))
        }
        return out
    }

    /// The document for `model` and its `report`. `embedArguments` puts slices' `args` in the
    /// document (for a self-contained file, which has no server to ask); `extra` members
    /// (already JSON) are appended. With `onDemand` the slices stay on the server: the document
    /// says `"slices":{"on_demand":true,"count":N,…empty columns}`, gives each thread its
    /// longest slice (`max_dur`) and the minimap its `activity` (4096 columns), and the page
    /// asks ``ViewerSlices`` for the rest.
    public static func json(
        model: TraceModel, report: AnalysisReport, path: String, embedArguments: Bool = false,
        extra: [(String, [UInt8])] = [], onDemand: ViewerSlices? = nil
    ) -> [UInt8] {
        var w = FastJSON()
        let origin = model.bounds.lowerBound.nanoseconds
        var strings: [String] = []
        var stringIndex: [String: Int] = [:]
        func intern(_ s: String) -> Int {
            if let i = stringIndex[s] { return i }
            stringIndex[s] = strings.count
            strings.append(s)
            return strings.count - 1
        }
        let profile = report.profile

        w.raw("{\"version\":1,\"start_ns\":")
        w.int(origin)
        w.raw(",\"duration_ns\":")
        w.int(model.duration.nanoseconds)
        w.raw(",\"trace\":")
        w.string(path)

        // Threads and processes.
        w.raw(",\"threads\":[")
        for (i, t) in model.threads.enumerated() {
            if i > 0 { w.raw(",") }
            var maxDepth = 0
            for s in model.slices[t.sliceRange] { maxDepth = max(maxDepth, s.depth) }
            w.raw("{\"pid\":")
            w.int(t.pid)
            w.raw(",\"tid\":")
            w.int(t.tid)
            w.raw(",\"name\":")
            w.string(t.name ?? "tid \(t.tid)")
            w.raw(",\"first\":")
            w.int(Int64(t.sliceRange.lowerBound))
            w.raw(",\"end\":")
            w.int(Int64(t.sliceRange.upperBound))
            w.raw(",\"max_depth\":")
            w.int(Int64(maxDepth))
            if let onDemand {
                w.raw(",\"max_dur\":")
                w.int(onDemand.maxDuration[i])
            }
            if let cpu = t.cpu, !cpu.samples.isEmpty {
                w.raw(",\"cpu\":{\"t\":[")
                for (k, p) in cpu.samples.enumerated() {
                    if k > 0 { w.raw(",") }
                    w.int(p.start.nanoseconds - origin)
                }
                w.raw("],\"e\":[")
                for (k, p) in cpu.samples.enumerated() {
                    if k > 0 { w.raw(",") }
                    w.int(p.end.nanoseconds - origin)
                }
                w.raw("],\"run\":[")
                for (k, p) in cpu.samples.enumerated() {
                    if k > 0 { w.raw(",") }
                    w.share(p.running)
                }
                w.raw("],\"rq\":[")
                for (k, p) in cpu.samples.enumerated() {
                    if k > 0 { w.raw(",") }
                    w.share(p.runnable)
                }
                w.raw("]}")
            }
            w.raw("}")
        }
        w.raw("],\"processes\":[")
        for (i, p) in model.processes.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"pid\":")
            w.int(p.pid)
            w.raw(",\"name\":")
            w.string(p.name ?? "process \(p.pid)")
            w.raw(",\"threads\":[")
            for (k, t) in p.threads.enumerated() {
                if k > 0 { w.raw(",") }
                w.int(Int64(t))
            }
            w.raw("]}")
        }

        // Slices, columnar (none when they are sent on demand).
        let slices = onDemand == nil ? model.slices : []
        w.raw("],\"slices\":{\"start\":[")
        for (i, s) in slices.enumerated() {
            if i > 0 { w.raw(",") }
            w.int(s.start.nanoseconds - origin)
        }
        w.raw("],\"dur\":[")
        for (i, s) in slices.enumerated() {
            if i > 0 { w.raw(",") }
            w.int(s.duration.nanoseconds)
        }
        w.raw("],\"depth\":[")
        for (i, s) in slices.enumerated() {
            if i > 0 { w.raw(",") }
            w.int(Int64(s.depth))
        }
        var names: [Int] = []
        names.reserveCapacity(slices.count)
        for s in slices { names.append(intern(s.name)) }
        w.raw("],\"name\":[")
        for (i, n) in names.enumerated() {
            if i > 0 { w.raw(",") }
            w.int(Int64(n))
        }
        w.raw("],\"kind\":[")
        for (i, s) in slices.enumerated() {
            if i > 0 { w.raw(",") }
            w.int(Int64(kind(s, profileKind: i < profile.sliceKinds.count ? profile.sliceKinds[i] : nil)))
        }
        if let onDemand {
            w.raw("],\"on_demand\":true,\"count\":")
            w.int(Int64(model.slices.count))
            w.raw(",\"activity\":[")
            for (i, v) in onDemand.activity(bins: 4096).enumerated() {
                if i > 0 { w.raw(",") }
                w.double((v * 1000).rounded() / 1000)
            }
        }
        if embedArguments {
            // What the server's slice details would say: each slice's category.
            w.raw("],\"category\":[")
            for (i, s) in slices.enumerated() {
                if i > 0 { w.raw(",") }
                w.int(Int64(intern(s.category)))
            }
        }

        // Async slices (tasks and other async tracks), one track per (pid, id) of depth 0;
        // then a lane per Swift actor, holding its runs.
        let lanes = AsyncLanes(model: model)
        w.raw("]},\"async_tracks\":[")
        for (i, t) in lanes.tracks.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"pid\":")
            w.int(t.pid)
            w.raw(",\"name\":")
            w.string(t.name)
            w.raw(",\"kind\":\"")
            w.raw(t.kind)
            w.raw("\",\"parent\":")
            w.int(Int64(t.parent))
            w.raw("}")
        }
        w.raw("],\"async\":{\"track\":[")
        for (i, item) in lanes.items.enumerated() {
            if i > 0 { w.raw(",") }
            w.int(Int64(item.track))
        }
        w.raw("],\"start\":[")
        for (i, item) in lanes.items.enumerated() {
            if i > 0 { w.raw(",") }
            w.int(item.start - origin)
        }
        w.raw("],\"dur\":[")
        for (i, item) in lanes.items.enumerated() {
            if i > 0 { w.raw(",") }
            w.int(item.duration)
        }
        w.raw("],\"depth\":[")
        for (i, item) in lanes.items.enumerated() {
            if i > 0 { w.raw(",") }
            w.int(Int64(item.depth))
        }
        w.raw("],\"name\":[")
        for (i, item) in lanes.items.enumerated() {
            if i > 0 { w.raw(",") }
            w.int(Int64(intern(item.name)))
        }

        // Counters.
        w.raw("]},\"counters\":[")
        let cpuThreads = Set(model.threads.filter { $0.cpu != nil }.map { "\($0.pid) cpu \($0.tid)" })
        var counterCount = 0
        for c in model.counters {
            // Per-thread CPU readings are the threads' `cpu` bands.
            if c.counter.hasPrefix("cpu "), cpuThreads.contains("\(c.pid) \(c.counter)") { continue }
            if counterCount > 0 { w.raw(",") }
            counterCount += 1
            w.raw("{\"pid\":")
            w.int(c.pid)
            w.raw(",\"name\":")
            w.string(c.name)
            w.raw(",\"t\":[")
            for (k, p) in c.points.enumerated() {
                if k > 0 { w.raw(",") }
                w.int(p.0.nanoseconds - origin)
            }
            w.raw("],\"v\":[")
            for (k, p) in c.points.enumerated() {
                if k > 0 { w.raw(",") }
                w.double(p.1)
            }
            w.raw("]}")
        }

        // Flows.
        w.raw("],\"flows\":{\"from_thread\":[")
        for (i, f) in model.flows.enumerated() {
            if i > 0 { w.raw(",") }
            w.int(Int64(f.from.thread))
        }
        w.raw("],\"from_t\":[")
        for (i, f) in model.flows.enumerated() {
            if i > 0 { w.raw(",") }
            w.int(f.from.timestamp.nanoseconds - origin)
        }
        w.raw("],\"to_thread\":[")
        for (i, f) in model.flows.enumerated() {
            if i > 0 { w.raw(",") }
            w.int(Int64(f.to.thread))
        }
        w.raw("],\"to_t\":[")
        for (i, f) in model.flows.enumerated() {
            if i > 0 { w.raw(",") }
            w.int(f.to.timestamp.nanoseconds - origin)
        }
        w.raw("],\"kind\":[")
        for (i, f) in model.flows.enumerated() {
            if i > 0 { w.raw(",") }
            w.int(f.category == TraceCategory.ipc.rawValue ? 4 : f.category == TraceCategory.process.rawValue ? 6 : 0)
        }
        w.raw("]}")
        sampledStacks(model, into: &w, intern: intern)
        if embedArguments { embeddedArguments(model, into: &w) }
        w.raw(",\"strings\":[")
        for (i, s) in strings.enumerated() {
            if i > 0 { w.raw(",") }
            w.string(s)
        }
        w.raw("],\"report\":")
        w.raw(ReportRenderer.render(report, path: path, format: .json))
        for (key, value) in extra {
            w.raw(",")
            w.string(key)
            w.raw(":")
            w.bytes += value
        }
        w.raw("}")
        return w.bytes
    }

    /// The stack samples: their frames as a tree (a node per distinct caller path, its name
    /// named by its function) and each sample's time, thread and innermost node.
    static func sampledStacks(_ model: TraceModel, into w: inout FastJSON, intern: (String) -> Int) {
        var nodeOf: [String: Int] = [:]
        var names: [Int] = []
        var parents: [Int] = []
        func node(_ id: String, depth: Int) -> Int {
            if let n = nodeOf[id] { return n }
            guard depth < 512, let f = model.stackFrames[id] else { return -1 }
            // Mark before recursing: a cycle ends at the frame seen again.
            nodeOf[id] = -1
            let parent = f.parent.map { node($0, depth: depth + 1) } ?? -1
            let n = names.count
            names.append(intern(flameName(f.name)))
            parents.append(parent)
            nodeOf[id] = n
            return n
        }
        var leaves: [Int] = []
        leaves.reserveCapacity(model.samples.count)
        for s in model.samples { leaves.append(s.stackFrame.map { node($0, depth: 0) } ?? -1) }
        let origin = model.bounds.lowerBound.nanoseconds
        w.raw(",\"frames\":{\"name\":[")
        for (i, n) in names.enumerated() {
            if i > 0 { w.raw(",") }
            w.int(Int64(n))
        }
        w.raw("],\"parent\":[")
        for (i, p) in parents.enumerated() {
            if i > 0 { w.raw(",") }
            w.int(Int64(p))
        }
        w.raw("]},\"samples\":{\"t\":[")
        for (i, s) in model.samples.enumerated() {
            if i > 0 { w.raw(",") }
            w.int(s.timestamp.nanoseconds - origin)
        }
        w.raw("],\"thread\":[")
        for (i, s) in model.samples.enumerated() {
            if i > 0 { w.raw(",") }
            w.int(Int64(s.thread))
        }
        w.raw("],\"frame\":[")
        for (i, l) in leaves.enumerated() {
            if i > 0 { w.raw(",") }
            w.int(Int64(l))
        }
        w.raw("]}")
    }

    /// A frame as a flame graph names it: the function alone — its offset, image and source
    /// line dropped, so one function's samples add up in one box.
    static func flameName(_ frame: String) -> String {
        let short = LockContentionAnalyzer.shortFrame(frame)
        let function = short.split(separator: " at ", maxSplits: 1, omittingEmptySubsequences: false)[0]
        return ReportRenderer.compactFrame(String(function))
    }

    /// `"args":{"<slice>":{…}}` for the slices that have args, up to ``embeddedArgumentLimit``
    /// (longest slices first: the ones a reader clicks) — a self-contained file has no server.
    static func embeddedArguments(_ model: TraceModel, into w: inout FastJSON) {
        var withArgs = model.slices.indices.filter { model.slices[$0].args != nil }
        if withArgs.count > embeddedArgumentLimit.slices {
            withArgs.sort { model.slices[$0].duration > model.slices[$1].duration }
            withArgs.removeLast(withArgs.count - embeddedArgumentLimit.slices)
        }
        w.raw(",\"args\":{")
        var bytes = 0
        var first = true
        for i in withArgs {
            guard let value = model.slices[i].args.flatMap({ model.arguments.value($0) }) else { continue }
            let text = value.serialized()
            bytes += text.utf8.count
            if bytes > embeddedArgumentLimit.bytes { break }
            if !first { w.raw(",") }
            first = false
            w.raw("\"\(i)\":")
            w.raw(text)
        }
        w.raw("}")
    }

    /// The details of slice `index`: name, category, times, args (raw JSON).
    /// `kinds` (``ViewerSlices``) adds its kind; its depth and thread index are always there.
    public static func sliceDetails(model: TraceModel, index: Int, kinds: ViewerSlices? = nil) -> [UInt8]? {
        guard index >= 0, index < model.slices.count else { return nil }
        let s = model.slices[index]
        let t = model.threads[s.thread]
        var w = FastJSON()
        w.raw("{\"index\":")
        w.int(Int64(index))
        w.raw(",\"thread_index\":")
        w.int(Int64(s.thread))
        w.raw(",\"depth\":")
        w.int(Int64(s.depth))
        if let kinds {
            w.raw(",\"kind\":")
            w.int(Int64(kinds.kinds[index]))
        }
        w.raw(",\"name\":")
        w.string(s.name)
        w.raw(",\"category\":")
        w.string(s.category)
        w.raw(",\"thread\":")
        w.string(t.label)
        w.raw(",\"pid\":")
        w.int(t.pid)
        w.raw(",\"start_ns\":")
        w.int(s.start.nanoseconds - model.bounds.lowerBound.nanoseconds)
        w.raw(",\"dur_ns\":")
        w.int(s.duration.nanoseconds)
        w.raw(",\"self_ns\":")
        w.int(s.selfDuration.nanoseconds)
        w.raw(",\"args\":")
        if let args = s.args.flatMap({ model.arguments.value($0) }) {
            w.raw(args.serialized())
        } else {
            w.raw("null")
        }
        w.raw("}")
        return w.bytes
    }

    static func kind(_ s: Slice, profileKind: SliceKind?) -> Int {
        recordedKind(name: s.name, category: s.category) ?? kind(profileKind: profileKind)
    }

    /// The kind a slice's cctrace category says, or nil.
    static func recordedKind(name: String, category: String) -> Int? {
        switch category {
        case TraceCategory.lock.rawValue: return name == "lock hold" ? 2 : 1
        case TraceCategory.loop.rawValue: return 3
        case TraceCategory.ipc.rawValue: return 4
        case TraceCategory.task.rawValue: return 5
        case TraceCategory.process.rawValue: return 6
        default: return nil
        }
    }

    /// The kind the classification gave a slice.
    static func kind(profileKind: SliceKind?) -> Int {
        switch profileKind {
        case .lockWait?: return 1
        case .ipc?: return 4
        case .ioWait?: return 7
        case .resultWait?: return 8
        default: return 0
        }
    }
}

/// A byte-buffer JSON writer for large documents (no intermediate values).
struct FastJSON {
    var bytes: [UInt8] = []

    mutating func raw(_ s: String) {
        var s = s
        s.withUTF8 { bytes.append(contentsOf: $0) }
    }

    mutating func int(_ v: Int64) {
        if v == 0 {
            bytes.append(0x30)
            return
        }
        var value = v.magnitude
        if v < 0 { bytes.append(0x2D) }
        var digits:
            (
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                UInt8, UInt8, UInt8, UInt8, UInt8
            ) =
                (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        withUnsafeMutableBytes(of: &digits) { d in
            while value > 0 {
                d[n] = UInt8(0x30 + value % 10)
                value /= 10
                n += 1
            }
            for i in stride(from: n - 1, through: 0, by: -1) { bytes.append(d[i]) }
        }
    }

    mutating func double(_ v: Double) {
        if v.isFinite {
            if v == v.rounded(), abs(v) < 1e15 { int(Int64(v)) } else { raw(String(v)) }
        } else {
            raw("null")
        }
    }

    mutating func string(_ s: String) {
        raw(JSONValue.string(s).serialized())
    }

    /// A share 0…1 with three decimals (`0.125`, `1`, `0`).
    mutating func share(_ v: Double) {
        let m = Int64(((v.isFinite ? max(0, min(1, v)) : 0) * 1000).rounded())
        if m == 1000 {
            bytes.append(0x31)
        } else if m == 0 {
            bytes.append(0x30)
        } else {
            raw("0.")
            let digits = [m / 100, m / 10 % 10, m % 10]
            var last = 2
            while last > 0 && digits[last] == 0 { last -= 1 }
            for d in digits[0...last] { bytes.append(UInt8(0x30 + d)) }
        }
    }
}

/// The viewer's async lanes: one per (pid, id) of the trace's async slices (a traced task's
/// lane knows its parent task's lane), then one per Swift actor with its runs.
struct AsyncLanes {
    struct Track {
        var pid: Int64
        var name: String
        /// `async`, `task` (a traced task: cctrace.task), `span` (distributed tracing), `actor`.
        var kind: String
        var parent: Int
    }
    struct Item {
        var track: Int
        var start: Int64
        var duration: Int64
        var depth: Int
        var name: String
    }
    var tracks: [Track] = []
    var items: [Item] = []

    init(model: TraceModel) {
        var trackIndex: [String: Int] = [:]
        var parentTask: [Int: String] = [:]
        let taskCategory = TraceCategory.task.rawValue
        let tracingCategory = TraceCategory.tracing.rawValue
        let parentKey = TraceVocabulary.Arg.parentTaskID.string
        // Distributed-tracing spans: lanes keyed by their span id, parents by parent_span_id.
        var spanLane: [String: Int] = [:]
        var parentSpan: [Int: String] = [:]
        for a in model.asyncSlices {
            let key = "\(a.pid)\u{0}\(a.id)"
            let t: Int
            if let existing = trackIndex[key] {
                t = existing
            } else {
                t = tracks.count
                trackIndex[key] = t
                let isTask = a.category == taskCategory
                let isSpan = a.category == tracingCategory
                tracks.append(
                    Track(pid: a.pid, name: a.name, kind: isTask ? "task" : isSpan ? "span" : "async", parent: -1))
                if isSpan, case .object(let members)? = a.args.flatMap({ model.arguments.value($0) }) {
                    func text(_ key: DialectName) -> String? {
                        if case .string(let s)? = members.first(where: { $0.0 == key.string })?.1 { return s }
                        return nil
                    }
                    if let id = text(TraceVocabulary.Arg.spanID) { spanLane["\(a.pid)\u{0}\(id)"] = t }
                    if let parent = text(TraceVocabulary.Arg.parentSpanID) { parentSpan[t] = "\(a.pid)\u{0}\(parent)" }
                }
                if isTask, case .object(let members)? = a.args.flatMap({ model.arguments.value($0) }),
                    let parent = members.first(where: { $0.0 == parentKey })?.1
                {
                    switch parent {
                    case .number(let n): parentTask[t] = "\(a.pid)\u{0}\(Int64(n))"
                    case .string(let s): parentTask[t] = "\(a.pid)\u{0}\(s)"
                    default: break
                    }
                }
            }
            items.append(
                Item(
                    track: t, start: a.start.nanoseconds, duration: a.duration.nanoseconds, depth: a.depth,
                    name: a.name))
        }
        for (t, key) in parentTask {
            if let p = trackIndex[key], p != t { tracks[t].parent = p }
        }
        for (t, key) in parentSpan {
            if let p = spanLane[key], p != t { tracks[t].parent = p }
        }
        // Swift actors: a job that ran an actor's queue is named `actor <Type>`.
        var actorLane: [String: Int] = [:]
        for (thread, info) in model.threads.enumerated() {
            for s in model.slices(ofThread: thread) where s.category == taskCategory && s.name.hasPrefix("actor ") {
                let key = "\(info.pid)\u{0}\(s.name)"
                let lane: Int
                if let existing = actorLane[key] {
                    lane = existing
                } else {
                    lane = tracks.count
                    actorLane[key] = lane
                    tracks.append(Track(pid: info.pid, name: s.name, kind: "actor", parent: -1))
                }
                items.append(
                    Item(
                        track: lane, start: s.start.nanoseconds, duration: s.duration.nanoseconds, depth: 0,
                        name: model.threads[thread].label))
            }
        }
    }
}
