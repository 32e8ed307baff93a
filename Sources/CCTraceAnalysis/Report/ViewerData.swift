import CCTraceFormat

/// The imported model as the web viewer draws it: one JSON document with columnar arrays
/// (times in integer nanoseconds from the trace's start, names as indexes into `strings`), so a
/// million slices parse in a few hundred milliseconds and sit in typed arrays — plus the
/// report's recommendation and findings. The viewer never re-implements the importer.
///
/// ```
/// {"version":1,"start_ns":…,"duration_ns":…,"strings":[…],
///  "processes":[{"pid","name","threads":[i…]}],
///  "threads":[{"pid","tid","name","first","end","max_depth"}],   // slices[first..<end]
///  "slices":{"start":[…],"dur":[…],"depth":[…],"name":[…],"kind":[…]},
///  "async":{"pid":[…],"track":[…],"start":[…],"dur":[…],"depth":[…],"name":[…]},
///  "async_tracks":[{"pid","name"}],
///  "counters":[{"pid","name","t":[…],"v":[…]}],
///  "flows":{"from_thread":[…],"from_t":[…],"to_thread":[…],"to_t":[…],"kind":[…]},
///  "report":{…`cctrace report --format json`…}}
/// ```
///
/// Slice kinds: 0 work, 1 lock wait, 2 lock hold, 3 loop callback/tick, 4 IPC, 5 task run,
/// 6 process, 7 I/O wait (by name), 8 waiting for a result (by name).
public enum ViewerData {
    /// The document for `model` and its `report`.
    public static func json(model: TraceModel, report: AnalysisReport, path: String) -> [UInt8] {
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

        // Slices, columnar.
        let slices = model.slices
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

        // Async slices (tasks and other async tracks), one track per (pid, id) of depth 0.
        var trackIndex: [String: Int] = [:]
        var tracks: [(pid: Int64, name: String)] = []
        var trackOf: [Int] = []
        for a in model.asyncSlices {
            let key = "\(a.pid)\u{0}\(a.id)"
            if let t = trackIndex[key] {
                trackOf.append(t)
            } else {
                trackIndex[key] = tracks.count
                tracks.append((a.pid, a.name))
                trackOf.append(tracks.count - 1)
            }
        }
        w.raw("]},\"async_tracks\":[")
        for (i, t) in tracks.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"pid\":")
            w.int(t.pid)
            w.raw(",\"name\":")
            w.string(t.name)
            w.raw("}")
        }
        w.raw("],\"async\":{\"track\":[")
        for (i, t) in trackOf.enumerated() {
            if i > 0 { w.raw(",") }
            w.int(Int64(t))
        }
        w.raw("],\"start\":[")
        for (i, a) in model.asyncSlices.enumerated() {
            if i > 0 { w.raw(",") }
            w.int(a.start.nanoseconds - origin)
        }
        w.raw("],\"dur\":[")
        for (i, a) in model.asyncSlices.enumerated() {
            if i > 0 { w.raw(",") }
            w.int(a.duration.nanoseconds)
        }
        w.raw("],\"depth\":[")
        for (i, a) in model.asyncSlices.enumerated() {
            if i > 0 { w.raw(",") }
            w.int(Int64(a.depth))
        }
        w.raw("],\"name\":[")
        for (i, a) in model.asyncSlices.enumerated() {
            if i > 0 { w.raw(",") }
            w.int(Int64(intern(a.name)))
        }

        // Counters.
        w.raw("]},\"counters\":[")
        for (i, c) in model.counters.enumerated() {
            if i > 0 { w.raw(",") }
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
        w.raw("]},\"strings\":[")
        for (i, s) in strings.enumerated() {
            if i > 0 { w.raw(",") }
            w.string(s)
        }
        w.raw("],\"report\":")
        w.raw(ReportRenderer.render(report, path: path, format: .json))
        w.raw("}")
        return w.bytes
    }

    /// The details of slice `index`: name, category, times, args (raw JSON).
    public static func sliceDetails(model: TraceModel, index: Int) -> [UInt8]? {
        guard index >= 0, index < model.slices.count else { return nil }
        let s = model.slices[index]
        let t = model.threads[s.thread]
        var w = FastJSON()
        w.raw("{\"index\":")
        w.int(Int64(index))
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
        switch s.category {
        case TraceCategory.lock.rawValue: return s.name == "lock hold" ? 2 : 1
        case TraceCategory.loop.rawValue: return 3
        case TraceCategory.ipc.rawValue: return 4
        case TraceCategory.task.rawValue: return 5
        case TraceCategory.process.rawValue: return 6
        default: break
        }
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
}
