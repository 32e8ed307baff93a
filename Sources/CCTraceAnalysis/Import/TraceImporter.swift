import CCTraceFormat
import Dispatch

#if canImport(Glibc)
    import Glibc
#endif

/// Turns a Chrome-format file into a ``TraceModel``: matches `B`/`E` per thread, nests slices,
/// pairs async begins and ends and flow ends, groups counters, and reports what it had to
/// repair as diagnostics.
public enum TraceImporter {
    /// Imports the trace at `path`: a file (JSON, array or object form, optionally gzip), `-`
    /// for standard input, or a directory of per-process trace files (`*.json`, `*.json.gz`,
    /// and the `FILE.<pid>` files children of a traced process write), merged into one model.
    ///
    /// `progress`, when given, is called from time to time with the input bytes consumed so far.
    ///
    /// - Throws: ``TraceReadError`` only when the input is not a trace at all.
    ///
    /// A plain file of at least `splitMinimumBytes` is read by two threads, each parsing half
    /// (`CCTRACE_IMPORT_THREADS=1` reads it with one).
    public static func importTrace(
        path: String, progress: ((Int) -> Void)? = nil, splitMinimumBytes: Int64 = 32 << 20
    ) throws(TraceReadError) -> TraceModel {
        var st = stat()
        if path != "-", stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
            let files = traceFiles(inDirectory: path)
            guard !files.isEmpty else {
                throw TraceReadError(path: path, byteOffset: 0, line: 0, reason: "no trace files in this directory")
            }
            let shared = TraceArgumentStore()
            var readers: [TraceReader] = []
            for file in files { readers.append(try TraceReader(path: file, arguments: shared)) }
            return try importTrace(readers: readers, progress: progress)
        }
        if path != "-", getenv("CCTRACE_IMPORT_THREADS").map({ String(cString: $0) }) != "1",
            let split = TraceReader.splitPoint(path: path, minimumSize: splitMinimumBytes),
            let model = try importInTwoParts(path: path, split: split, progress: progress)
        {
            return model
        }
        return try importTrace(readers: [TraceReader(path: path)], progress: progress)
    }

    /// The file read by two threads, each parsing its half into a model builder of its own:
    /// the first reads up to the split point and confirms it lies between two events of the
    /// top-level array; the second reads from there. Their builders are then merged in file
    /// order. Nil when the first reader did not meet the split where it should (a split inside
    /// a multi-line event): it has then read the whole file, which the caller reads again alone.
    private static func importInTwoParts(
        path: String, split: (offset: Int64, objectForm: Bool), progress: ((Int) -> Void)?
    ) throws(TraceReadError) -> TraceModel? {
        var timer = PhaseTimer()
        let shared = TraceArgumentStore()
        let first = try TraceReader(path: path, arguments: shared)
        first.stopOffset = split.offset
        let second = try TraceReader(path: path, arguments: shared, from: split.offset, objectForm: split.objectForm)
        final class Half: @unchecked Sendable {
            var builder: ModelBuilder
            var error: TraceReadError?
            init(_ b: ModelBuilder) { builder = b }
        }
        // The second part's events come after every event of the first in the merged order.
        let other = Half(ModelBuilder(arguments: shared, orderBase: 1 << 40, frameIDPrefix: "cctrace-2:"))
        let reader2 = UnsafeSendable(second)
        let thread = startThread {
            do throws(TraceReadError) {
                try reader2.value.read { other.builder.add(&$0) }
            } catch {
                other.error = error
            }
        }
        var builder = ModelBuilder(arguments: shared)
        var firstError: TraceReadError?
        var added = 0
        do throws(TraceReadError) {
            try first.read { event in
                builder.add(&event)
                added += 1
                if let progress, added & 0xFFF == 0 { progress(Int(event.byteOffset)) }
            }
        } catch {
            firstError = error
        }
        pthread_join(thread, nil)
        timer.mark("import: both parts read")
        if let firstError { throw firstError }
        guard first.stoppedAtSplit else { return nil }
        let shift = first.lineAtStop - 1
        if var error = other.error {
            if error.line > 0 { error.line += shift }
            throw error
        }
        builder.absorb(other.builder)
        // Let go of the second builder's arrays: each thread's are freed once it is built.
        other.builder = ModelBuilder(arguments: shared)
        timer.mark("import: parts merged")
        var diagnostics = first.diagnostics
        var secondDiagnostics = second.diagnostics
        secondDiagnostics.shiftLines(by: shift)
        diagnostics.merge(secondDiagnostics)
        if diagnostics[.truncatedFile] != nil {
            // The second reader counted only its own events.
            diagnostics.setMessage(
                of: .truncatedFile,
                TraceReader.truncatedMessage(insideArray: second.endedInsideArray, events: builder.eventCount))
        }
        return finish(builder: &builder, readers: [first, second], readerDiagnostics: diagnostics, path: path)
    }

    /// Imports a trace held in memory.
    public static func importTrace(bytes: [UInt8], name: String = "<memory>") throws(TraceReadError) -> TraceModel {
        try importTrace(readers: [TraceReader(bytes: bytes, name: name)])
    }

    /// The trace files in a directory, sorted by name.
    static func traceFiles(inDirectory path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard !name.hasPrefix(".") else { continue }
            let isTrace =
                name.hasSuffix(".json") || name.hasSuffix(".json.gz") || name.hasSuffix(".gz")
                || name.split(separator: ".").last.map { $0.allSatisfy(\.isNumber) && name.contains(".json.") } == true
            if isTrace { names.append(name) }
        }
        return names.sorted().map { path.hasSuffix("/") ? path + $0 : path + "/" + $0 }
    }

    static func importTrace(readers: [TraceReader], progress: ((Int) -> Void)? = nil) throws(TraceReadError)
        -> TraceModel
    {
        var timer = PhaseTimer()
        var builder = ModelBuilder(arguments: readers[0].arguments)
        var readerDiagnostics = ImportDiagnostics()
        for reader in readers {
            try pipe(reader, into: &builder, progress: progress)
            var diagnostics = reader.diagnostics
            if readers.count > 1 { diagnostics.attribute(toFile: reader.path) }
            readerDiagnostics.merge(diagnostics)
        }
        timer.mark("import: read and add")
        return finish(
            builder: &builder, readers: readers, readerDiagnostics: readerDiagnostics,
            path: readers.count == 1 ? readers[0].path : nil)
    }

    /// The model from a builder that has every event: the readers' top-level metadata (object
    /// form) applied, slices built, primitive views derived, diagnostics placed on lines.
    private static func finish(
        builder: inout ModelBuilder, readers: [TraceReader], readerDiagnostics: ImportDiagnostics, path: String?
    ) -> TraceModel {
        // `inout`, not a copy: the build frees each thread's pending slices as it goes, which a
        // second reference to them would prevent.
        var timer = PhaseTimer()
        var syntheticNames: [Int64: String] = [:]
        for reader in readers {
            syntheticNames.merge(reader.syntheticNames) { a, _ in a }
            for (key, value) in reader.metadata {
                switch (key, value) {
                case ("metadata", .object(let members)), ("otherData", .object(let members)):
                    for (k, v) in members { builder.session[k] = v }
                case ("viztracer_metadata", .object(let members)):
                    builder.session[TraceVocabulary.Imported.viztracerVersion] =
                        members.first { $0.0 == "version" }?.1 ?? .string("?")
                case ("displayTimeUnit", .string):
                    builder.session["displayTimeUnit"] = value
                case ("stackFrames", .object(let frames)):
                    for (id, frame) in frames {
                        builder.stackFrames[id] = StackFrame(
                            name: frame["name"]?.stringValue ?? "?", parent: frame["parent"]?.stringValue,
                            category: frame["category"]?.stringValue)
                    }
                case ("samples", .array(let samples)):
                    builder.addSamples(samples)
                default:
                    break
                }
            }
        }
        var model = builder.build(readerDiagnostics: readerDiagnostics, syntheticNames: syntheticNames)
        timer.mark("import: build")
        // The primitive views are one thread's work: the slices' names index is found on
        // another core meanwhile (the analysis reads it first; see TraceModel.sliceNames()).
        let slices = model.slices
        let names = Started(UnsafeSendable { SliceNames(slices: slices) })
        let views = TraceModel.primitiveViews(
            slices: model.slices, threads: model.threads, counters: model.counters, flows: model.flows,
            arguments: model.arguments)
        (model.lockWaits, model.lockHolds, model.eventLoops, model.ipcMessages) = views
        model.foundNames = (slices, names.join())
        timer.mark("import: primitive views and names")
        // Diagnostics raised while building know their byte offset; find their lines.
        if let path {
            let unplaced = model.diagnostics.filter { $0.byteOffset >= 0 && $0.line == 0 }.map(\.byteOffset)
            let lines = TraceReader.lineNumbers(of: unplaced, inFile: path)
            for i in model.diagnostics.indices where model.diagnostics[i].line == 0 {
                model.diagnostics[i].line = lines[model.diagnostics[i].byteOffset] ?? 0
            }
        }
        return model
    }

    /// Two stages on two cores: a reader thread parses batches of events while this thread
    /// builds the model from the previous batch.
    private static func pipe(
        _ reader: TraceReader, into builder: inout ModelBuilder, progress: ((Int) -> Void)?
    ) throws(TraceReadError) {
        let pipeline = EventPipeline()
        let producer = startThread {
            var batch: [RawTraceEvent] = []
            batch.reserveCapacity(EventPipeline.batchSize)
            do throws(TraceReadError) {
                try reader.read { event in
                    batch.append(event)
                    if batch.count == EventPipeline.batchSize {
                        pipeline.push(batch)
                        batch = []
                        batch.reserveCapacity(EventPipeline.batchSize)
                    }
                }
                pipeline.push(batch)
                pipeline.finish(error: nil)
            } catch {
                pipeline.finish(error: error)
            }
        }
        while let batch = pipeline.pop() {
            for var event in batch { builder.add(&event) }
            if let progress, let last = batch.last { progress(Int(last.byteOffset)) }
        }
        pthread_join(producer, nil)
        if let error = pipeline.error { throw error }
    }
}

/// A bounded hand-off of event batches from the reader thread to the model builder.
final class EventPipeline: @unchecked Sendable {
    static let batchSize = 4096
    private static let maxQueued = 8
    private var mutex = pthread_mutex_t()
    private var changed = pthread_cond_t()
    private var queue: [[RawTraceEvent]] = []
    private var done = false
    private(set) var error: TraceReadError?

    init() {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&changed, nil)
    }

    deinit {
        pthread_mutex_destroy(&mutex)
        pthread_cond_destroy(&changed)
    }

    func push(_ batch: [RawTraceEvent]) {
        guard !batch.isEmpty else { return }
        pthread_mutex_lock(&mutex)
        while queue.count >= Self.maxQueued { pthread_cond_wait(&changed, &mutex) }
        queue.append(batch)
        pthread_cond_broadcast(&changed)
        pthread_mutex_unlock(&mutex)
    }

    func finish(error: TraceReadError?) {
        pthread_mutex_lock(&mutex)
        done = true
        self.error = error
        pthread_cond_broadcast(&changed)
        pthread_mutex_unlock(&mutex)
    }

    /// The next batch, or `nil` once the reader finished and everything was taken.
    func pop() -> [RawTraceEvent]? {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        while queue.isEmpty && !done { pthread_cond_wait(&changed, &mutex) }
        if queue.isEmpty { return nil }
        let batch = queue.removeFirst()
        pthread_cond_broadcast(&changed)
        return batch
    }
}

final class ThreadStart {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
}

/// Runs `body` on a new thread (joined by the caller).
func startThread(_ body: @escaping () -> Void) -> pthread_t {
    var thread = pthread_t()
    let box = Unmanaged.passRetained(ThreadStart(body)).toOpaque()
    pthread_create(
        &thread, nil,
        {
            Unmanaged<ThreadStart>.fromOpaque($0!).takeRetainedValue().body(); return nil
        }, box)
    return thread
}

/// Accumulates raw events, then builds the model.
struct ModelBuilder {
    let arguments: TraceArgumentStore
    var diagnostics = ImportDiagnostics()
    var session: [String: JSONValue] = [:]
    /// Events taken in so far.
    private(set) var eventCount = 0
    private var threadIndex: [ThreadKey: Int] = [:]
    private var threadKeys: [ThreadKey] = []
    private var threadNames: [Int: String] = [:]
    private var threadSort: [Int: Int] = [:]
    private var processNames: [Int64: String] = [:]
    private var processSort: [Int64: Int] = [:]
    private var processLabels: [Int64: String] = [:]
    private var samples: [Sample] = []
    private var objectEvents = 0
    /// The object form's `stackFrames`, when the file has them.
    var stackFrames: [String: StackFrame] = [:]
    private var pending: [[PendingSlice]] = []
    /// Per thread, the pending slices of a later part of the file (``absorb(_:)``).
    private var laterPending: [[PendingSlice]] = []
    /// Slices each thread will have: one per `X` and per `B`.
    private var sliceCounts: [Int] = []
    private var instants: [Instant] = []
    private var sampleFrameIDs: [String: String] = [:]
    private var asyncEvents: [AsyncEvent] = []
    private var flowEvents: [FlowEvent] = []
    private var counterPoints: [CounterKey: [(TraceTimestamp, Double)]] = [:]
    private var cpuPoints: [Int: [(TraceTimestamp, Double, Double)]] = [:]
    private var minTime = Int64.max
    private var maxTime = Int64.min
    private var order = 0

    struct ThreadKey: Hashable {
        var pid: Int64
        var tid: Int64
    }

    struct CounterKey: Hashable {
        var pid: Int64
        var name: String
        var key: String
        var multi: Bool
    }

    /// A thread slice or a `B`/`E` marker, before matching.
    /// 88 bytes: fields ordered so the small ones share the last word.
    struct PendingSlice {
        var name: String
        var category: String
        var start: Int64
        var duration: Int64
        var order: Int
        var offset: Int64
        private var threadNanoseconds: Int64
        var args: TraceArgumentStore.Reference?
        var phase: UInt8

        init(
            phase: UInt8, name: String, category: String, start: Int64, duration: Int64,
            args: TraceArgumentStore.Reference?, order: Int, offset: Int64, threadDuration: Int64? = nil
        ) {
            self.name = name
            self.category = category
            self.start = start
            self.duration = duration
            self.order = order
            self.offset = offset
            self.threadNanoseconds = threadDuration ?? .min
            self.args = args
            self.phase = phase
        }

        var threadDuration: Int64? {
            get { threadNanoseconds == .min ? nil : threadNanoseconds }
            set { threadNanoseconds = newValue ?? .min }
        }
    }

    struct AsyncEvent {
        var phase: UInt8
        var name: String
        var category: String
        var id: String
        var pid: Int64
        var ts: Int64
        var args: TraceArgumentStore.Reference?
        var order: Int
        var offset: Int64
    }

    struct FlowEvent {
        var phase: UInt8
        var name: String
        var category: String
        var id: String
        var pid: Int64
        var thread: Int
        var ts: Int64
        var order: Int
        var offset: Int64
    }

    /// Prefix of the ids of stack frames built from cctrace's samples (two builders of one
    /// trace keep theirs apart).
    private var frameIDPrefix = "cctrace:"

    init(arguments: TraceArgumentStore, orderBase: Int = 0, frameIDPrefix: String = "cctrace:") {
        self.arguments = arguments
        self.order = orderBase
        self.frameIDPrefix = frameIDPrefix
    }

    /// Takes in the events of `other`, a builder of the part of the file after this one's:
    /// its threads mapped onto this builder's by (pid, tid), its events after these.
    mutating func absorb(_ other: ModelBuilder) {
        var map = [Int](repeating: 0, count: other.threadKeys.count)
        for (j, key) in other.threadKeys.enumerated() { map[j] = thread(key.pid, key.tid) }
        func mapped(_ t: Int) -> Int { t >= 0 && t < map.count ? map[t] : t }
        diagnostics.merge(other.diagnostics)
        for (k, v) in other.session { session[k] = v }
        eventCount += other.eventCount
        for (t, name) in other.threadNames { threadNames[mapped(t)] = name }
        for (t, index) in other.threadSort { threadSort[mapped(t)] = index }
        for (pid, name) in other.processNames { processNames[pid] = name }
        for (pid, index) in other.processSort { processSort[pid] = index }
        for (pid, labels) in other.processLabels { processLabels[pid] = labels }
        for var sample in other.samples {
            sample.thread = mapped(sample.thread)
            samples.append(sample)
        }
        objectEvents += other.objectEvents
        for (id, frame) in other.stackFrames { stackFrames[id] = frame }
        // The later part's pending slices stay in their own arrays until each thread is built:
        // appending them here would copy every thread's at once (half the model, transiently).
        laterPending.append(contentsOf: repeatElement([], count: max(0, threadKeys.count - laterPending.count)))
        for (j, items) in other.pending.enumerated() {
            laterPending[map[j]] = items
            sliceCounts[map[j]] += other.sliceCounts[j]
        }
        for var instant in other.instants {
            instant.thread = mapped(instant.thread)
            instants.append(instant)
        }
        asyncEvents.append(contentsOf: other.asyncEvents)
        for var flow in other.flowEvents {
            flow.thread = mapped(flow.thread)
            flowEvents.append(flow)
        }
        for (key, points) in other.counterPoints { counterPoints[key, default: []].append(contentsOf: points) }
        for (t, points) in other.cpuPoints { cpuPoints[mapped(t), default: []].append(contentsOf: points) }
        minTime = min(minTime, other.minTime)
        maxTime = max(maxTime, other.maxTime)
        order = max(order, other.order)
    }

    private mutating func thread(_ pid: Int64, _ tid: Int64) -> Int {
        let key = ThreadKey(pid: pid, tid: tid)
        if let i = threadIndex[key] { return i }
        let i = threadKeys.count
        threadIndex[key] = i
        threadKeys.append(key)
        pending.append([])
        sliceCounts.append(0)
        return i
    }

    private mutating func see(_ ns: Int64) {
        if ns < minTime { minTime = ns }
        if ns > maxTime { maxTime = ns }
    }

    mutating func add(_ e: inout RawTraceEvent) {
        eventCount += 1
        order += 1
        let phase = e.phase
        if phase == UInt8(ascii: "M") {
            addMetadata(e)
            return
        }
        guard let ts = e.timestamp?.nanoseconds else {
            switch phase {
            case UInt8(ascii: "O"), UInt8(ascii: "N"), UInt8(ascii: "D"):
                objectEvents += 1
                return
            default:
                diagnostics.add(
                    .missingTimestamp, byteOffset: e.byteOffset, "An event without `ts` was skipped.")
                return
            }
        }
        switch phase {
        case UInt8(ascii: "X"):
            var dur = e.duration?.nanoseconds ?? 0
            if dur < 0 {
                diagnostics.add(.negativeDuration, byteOffset: e.byteOffset, "An `X` has a negative `dur`; read as 0.")
                dur = 0
            }
            let t = thread(e.pid, e.tid)
            pending[t].append(
                PendingSlice(
                    phase: phase, name: e.name, category: e.category, start: ts, duration: dur, args: e.args,
                    order: order, offset: e.byteOffset, threadDuration: e.threadDuration?.nanoseconds))
            sliceCounts[t] += 1
            addBoundFlow(e, thread: t, ts: ts)
            see(ts)
            see(ts + dur)
        case UInt8(ascii: "B"), UInt8(ascii: "E"):
            let t = thread(e.pid, e.tid)
            if phase == UInt8(ascii: "B") {
                sliceCounts[t] += 1
                addBoundFlow(e, thread: t, ts: ts)
            }
            pending[t].append(
                PendingSlice(
                    phase: phase, name: e.name, category: e.category, start: ts, duration: 0, args: e.args,
                    order: order, offset: e.byteOffset))
            see(ts)
        case UInt8(ascii: "i"), UInt8(ascii: "I"), UInt8(ascii: "R"):
            let threadScoped = e.scope == 0 || e.scope == UInt8(ascii: "t")
            instants.append(
                Instant(
                    name: e.name, category: e.category, timestamp: TraceTimestamp(nanoseconds: ts), pid: e.pid,
                    thread: threadScoped ? thread(e.pid, e.tid) : -1, args: e.args))
            if e.category == TraceCategory.sample.rawValue { addStackSample(e, ts: ts) }
            see(ts)
        case UInt8(ascii: "C"):
            addCounter(e, ts)
            see(ts)
        case UInt8(ascii: "b"), UInt8(ascii: "e"), UInt8(ascii: "S"), UInt8(ascii: "F"):
            asyncEvents.append(
                AsyncEvent(
                    phase: phase, name: e.name, category: e.category, id: e.id ?? "", pid: e.pid, ts: ts, args: e.args,
                    order: order, offset: e.byteOffset))
            see(ts)
        case UInt8(ascii: "n"), UInt8(ascii: "T"), UInt8(ascii: "p"):
            see(ts)
        case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "f"):
            flowEvents.append(
                FlowEvent(
                    phase: phase, name: e.name, category: e.category, id: e.id ?? "", pid: e.pid,
                    thread: thread(e.pid, e.tid), ts: ts, order: order, offset: e.byteOffset))
            see(ts)
        case UInt8(ascii: "P"):
            samples.append(
                Sample(
                    timestamp: TraceTimestamp(nanoseconds: ts), pid: e.pid, thread: thread(e.pid, e.tid),
                    stackFrame: e.stackFrame, name: e.name, weight: 1))
            see(ts)
        case UInt8(ascii: "O"), UInt8(ascii: "N"), UInt8(ascii: "D"):
            objectEvents += 1
            see(ts)
        default:
            diagnostics.add(
                .unknownPhase, byteOffset: e.byteOffset,
                "An event has a phase cctrace does not know (`\(String(UnicodeScalar(phase)))`); ignored.")
        }
    }

    /// cctrace's stack samples (`cctrace.sample` instants with `args.frames`, innermost first)
    /// become samples whose frames join the model's stack-frame tree (ids `cctrace:N`).
    private mutating func addStackSample(_ e: RawTraceEvent, ts: Int64) {
        guard case .object(let members)? = e.parsedArgs,
            case .array(let frames)? = members.first(where: { $0.0 == TraceVocabulary.Arg.frames.string })?.1
        else { return }
        var locations: [JSONValue] = []
        if case .array(let l)? = members.first(where: { $0.0 == TraceVocabulary.Arg.locations.string })?.1,
            l.count == frames.count
        {
            locations = l
        }
        var parent: String?
        for (index, frame) in frames.enumerated().reversed() {
            guard let name = frame.stringValue else { continue }
            let location = index < locations.count ? locations[index].stringValue : nil
            let key = (parent ?? "") + "\u{0}" + name + "\u{0}" + (location ?? "")
            if let id = sampleFrameIDs[key] {
                parent = id
            } else {
                let id = "\(frameIDPrefix)\(sampleFrameIDs.count + 1)"
                sampleFrameIDs[key] = id
                // cctrace's frames keep their image location in `category`, for file:line.
                stackFrames[id] = StackFrame(name: name, parent: parent, category: location)
                parent = id
            }
        }
        samples.append(
            Sample(
                timestamp: TraceTimestamp(nanoseconds: ts), pid: e.pid, thread: thread(e.pid, e.tid),
                stackFrame: parent,
                name: e.name, weight: 1))
    }

    /// The object form's `samples`: `{cpu, tid, ts, name, sf, weight}` each (pid unknown: 0
    /// unless a `pid` member is present).
    mutating func addSamples(_ items: [JSONValue]) {
        for item in items {
            guard let tsMicros = item["ts"]?.doubleValue else { continue }
            let tid = item["tid"]?.intValue ?? 0
            // Without a pid, the sample belongs to the one process that has this thread.
            let owners = threadKeys.filter { $0.tid == tid }
            let pid = item["pid"]?.intValue ?? (owners.count == 1 ? owners[0].pid : 0)
            samples.append(
                Sample(
                    timestamp: TraceTimestamp(microseconds: tsMicros), pid: pid, thread: thread(pid, tid),
                    stackFrame: item["sf"]?.stringValue, name: item["name"]?.stringValue ?? "",
                    weight: item["weight"]?.doubleValue ?? 1))
        }
    }

    /// v2 flows: a slice with `bind_id` and `flow_out` starts a flow, one with `flow_in` ends it
    /// (a slice may do both: a step).
    private mutating func addBoundFlow(_ e: RawTraceEvent, thread t: Int, ts: Int64) {
        guard let id = e.id, e.flowIn || e.flowOut else { return }
        if e.flowIn {
            flowEvents.append(
                FlowEvent(
                    phase: UInt8(ascii: e.flowOut ? "t" : "f"), name: e.name, category: Self.v2FlowCategory, id: id,
                    pid: e.pid, thread: t, ts: ts, order: order, offset: e.byteOffset))
        } else {
            flowEvents.append(
                FlowEvent(
                    phase: UInt8(ascii: "s"), name: e.name, category: Self.v2FlowCategory, id: id, pid: e.pid,
                    thread: t, ts: ts, order: order, offset: e.byteOffset))
        }
    }

    static let unmatchedAsyncMessage = "An async slice lacks its begin or its end; it was dropped."
    static let danglingFlowMessage = "A flow arrow lacks its start or its end; it was dropped."

    /// v2 flow ids live in their own namespace, apart from v1 `s`/`f` (which pair by category).
    static let v2FlowCategory = "\u{0}bind_id"

    private mutating func addMetadata(_ e: RawTraceEvent) {
        let args = e.parsedArgs
        typealias Chrome = TraceVocabulary.Chrome
        typealias Key = TraceVocabulary.Session
        switch e.name {
        case Chrome.processName.string:
            if let name = args?["name"]?.stringValue { processNames[e.pid] = name }
        case Chrome.threadName.string:
            if let name = args?["name"]?.stringValue { threadNames[thread(e.pid, e.tid)] = name }
        case Chrome.threadSortIndex.string:
            if let i = args?["sort_index"]?.intValue { threadSort[thread(e.pid, e.tid)] = Int(i) }
        case Chrome.processSortIndex.string:
            if let i = args?["sort_index"]?.intValue { processSort[e.pid] = Int(i) }
        case Chrome.processLabels.string:
            if let labels = args?["labels"]?.stringValue { processLabels[e.pid] = labels }
        case TraceVocabulary.Event.session.string:
            if case .object(let members)? = args {
                for (k, v) in members { session[k] = v }
            }
        case TraceVocabulary.Event.sessionEnd.string:
            if let dropped = args?[Key.droppedEvents.string]?.intValue, dropped > 0 {
                diagnostics.add(
                    .droppedEvents, count: Int(dropped), byteOffset: e.byteOffset,
                    "The recorder dropped \(dropped) events because its buffers were full (pid \(e.pid)).")
            }
            if let reason = args?[Key.reason.string]?.stringValue {
                session[TraceVocabulary.Imported.endReason] = .string(reason)
            }
            if let signal = args?[Key.signal.string]?.intValue, signal != 0 {
                session[TraceVocabulary.Imported.endSignal] = .number(Double(signal))
            }
            if let end = args?[Key.endTs.string], let wall = args?[Key.wallEndUs.string] {
                session[TraceVocabulary.Imported.endTs] = end
                session[TraceVocabulary.Imported.wallEndUs] = wall
            }
        default:
            break
        }
    }

    private mutating func addCounter(_ e: RawTraceEvent, _ ts: Int64) {
        guard case .object(let members)? = e.parsedArgs else { return }
        if e.category == TraceVocabulary.Category.cpu.string, e.name.hasPrefix(TraceVocabulary.Event.cpuPrefix.string) {
            // Shares of the interval: anything else in a file (or a fuzzer's) is clamped to 0…1.
            func share(_ key: String) -> Double {
                let v = (members.first { $0.0 == key }?.1.doubleValue ?? 0) / 100
                return v.isFinite ? max(0, min(1, v)) : 0
            }
            let running = share(TraceVocabulary.Arg.runningPct.string)
            let runnable = share(TraceVocabulary.Arg.runnablePct.string)
            cpuPoints[thread(e.pid, e.tid), default: []].append((TraceTimestamp(nanoseconds: ts), running, runnable))
        }
        let numeric = members.filter { $0.1.doubleValue != nil }
        for (key, value) in numeric {
            let k = CounterKey(pid: e.pid, name: e.name, key: key, multi: numeric.count > 1)
            counterPoints[k, default: []].append((TraceTimestamp(nanoseconds: ts), value.doubleValue!))
        }
    }

    // MARK: - Build

    mutating func build(readerDiagnostics: ImportDiagnostics, syntheticNames: [Int64: String]) -> TraceModel {
        let slices: [Slice]
        var threads: [ThreadInfo] = []
        var lastTime = maxTime == Int64.min ? 0 : maxTime
        if minTime == Int64.max {
            minTime = 0
            lastTime = 0
        }
        // Threads are independent: nest each one's slices on all cores, straight into the
        // final array. Every `X` and every `B` becomes exactly one slice, so each thread's
        // region is known before any matching.
        let threadCount = threadKeys.count
        let work = pending.indices.map {
            PendingBox(pending[$0], later: $0 < laterPending.count ? laterPending[$0] : [])
        }
        pending = []
        laterPending = []
        var offsets = [Int](repeating: 0, count: threadCount + 1)
        for t in 0..<threadCount { offsets[t + 1] = offsets[t] + sliceCounts[t] }
        let total = offsets[threadCount]
        let regionStarts = offsets
        let endOfTrace = lastTime
        var perThreadDiagnostics = [ImportDiagnostics](repeating: ImportDiagnostics(), count: threadCount)
        slices = [Slice](unsafeUninitializedCapacity: total) { buffer, initialized in
            perThreadDiagnostics.withUnsafeMutableBufferPointer { diagnostics in
                let region = UnsafeSendable(buffer.baseAddress)
                let diagnostics = UnsafeSendable(diagnostics)
                DispatchQueue.concurrentPerform(iterations: threadCount) { t in
                    var d = ImportDiagnostics()
                    let items = work[t].take()
                    let written = Self.buildThreadSlices(
                        items, thread: t, endOfTrace: endOfTrace, into: region.value! + regionStarts[t],
                        base: regionStarts[t], diagnostics: &d)
                    precondition(written == regionStarts[t + 1] - regionStarts[t], "slice count mismatch")
                    diagnostics.value[t] = d
                }
            }
            initialized = total
        }
        for d in perThreadDiagnostics { diagnostics.merge(d) }
        for (t, key) in threadKeys.enumerated() {
            let first = offsets[t]
            var info = ThreadInfo(
                pid: key.pid, tid: key.tid, name: threadNames[t] ?? syntheticNames[key.tid], sortIndex: threadSort[t],
                sliceRange: first..<offsets[t + 1], cpu: nil)
            if let points = cpuPoints[t] {
                let sorted = points.sorted { $0.0 < $1.0 }
                var samples: [(start: TraceTimestamp, end: TraceTimestamp, running: Double, runnable: Double)] = []
                for (i, p) in sorted.enumerated() where i + 1 < sorted.count {
                    samples.append((p.0, sorted[i + 1].0, p.1, p.2))
                }
                info.cpu = CPUAccounting(samples: samples)
            }
            threads.append(info)
        }
        var processThreads: [Int64: [Int]] = [:]
        for (i, t) in threads.enumerated() { processThreads[t.pid, default: []].append(i) }
        for pid in processNames.keys where processThreads[pid] == nil { processThreads[pid] = [] }
        let processes = processThreads.keys.sorted().map { pid in
            ProcessInfo(
                pid: pid, name: processNames[pid] ?? syntheticNames[pid], sortIndex: processSort[pid],
                labels: processLabels[pid], threads: processThreads[pid]!)
        }
        let asyncSlices = buildAsync()
        let flows = buildFlows()
        let counters = counterPoints.map { key, points in
            CounterSeries(
                pid: key.pid, name: key.multi ? "\(key.name) \(key.key)" : key.name, counter: key.name, key: key.key,
                points: points.sorted { $0.0 < $1.0 })
        }.sorted { ($0.pid, $0.name) < ($1.pid, $1.name) }
        var all = readerDiagnostics.all
        all.append(contentsOf: diagnostics.all)
        return TraceModel(
            processes: processes, threads: threads, slices: slices, asyncSlices: asyncSlices, instants: instants,
            counters: counters, flows: flows, stackFrames: stackFrames,
            samples: samples.sorted { $0.timestamp < $1.timestamp }, objectEventCount: objectEvents,
            session: session, diagnostics: all, arguments: arguments,
            bounds: TraceTimestamp(nanoseconds: minTime)...TraceTimestamp(nanoseconds: max(minTime, lastTime)),
            eventCount: eventCount)
    }

    /// Matches `B`/`E`, merges `X`, sorts, and computes depth, parent and self time.
    /// Matches `B`/`E`, merges `X`, sorts, and writes the thread's slices (depth, parent as a
    /// global index from `base`, self time) into `region`. Returns how many it wrote.
    private static func buildThreadSlices(
        _ items: [PendingSlice], thread: Int, endOfTrace: Int64, into region: UnsafeMutablePointer<Slice>, base: Int,
        diagnostics: inout ImportDiagnostics
    ) -> Int {
        // Stable by time; at equal times an `E` closes before a `B` opens.
        let sorted = items.sorted {
            if $0.start != $1.start { return $0.start < $1.start }
            let e0 = $0.phase == UInt8(ascii: "E")
            let e1 = $1.phase == UInt8(ascii: "E")
            if e0 != e1 { return e0 }
            return $0.order < $1.order
        }
        var complete: [PendingSlice] = []
        complete.reserveCapacity(sorted.count)
        var open: [PendingSlice] = []
        for item in sorted {
            switch item.phase {
            case UInt8(ascii: "B"):
                open.append(item)
            case UInt8(ascii: "E"):
                if var begin = open.popLast() {
                    begin.duration = item.start - begin.start
                    if begin.args == nil { begin.args = item.args }
                    complete.append(begin)
                } else {
                    diagnostics.add(
                        .unmatchedEnd, byteOffset: item.offset, "An `E` has no open `B` on its thread; dropped.")
                }
            default:
                complete.append(item)
            }
        }
        for var begin in open {
            diagnostics.add(
                .unclosedBegin, byteOffset: begin.offset,
                "A `B` is never closed; it is closed at the end of the trace.")
            begin.duration = max(0, endOfTrace - begin.start)
            complete.append(begin)
        }
        // Parents first: by start, then longest, then file order.
        complete.sort {
            if $0.start != $1.start { return $0.start < $1.start }
            if $0.duration != $1.duration { return $0.duration > $1.duration }
            return $0.order < $1.order
        }
        let n = complete.count
        var parents = [Int](repeating: -1, count: n)
        var depths = [Int](repeating: 0, count: n)
        var childTime = [Int64](repeating: 0, count: n)
        var stack: [Int] = []
        for (index, item) in complete.enumerated() {
            let end = item.start + item.duration
            while let top = stack.last, complete[top].start + complete[top].duration <= item.start {
                stack.removeLast()
            }
            if let top = stack.last {
                let topEnd = complete[top].start + complete[top].duration
                if end > topEnd {
                    diagnostics.add(
                        .overlappingSlice, byteOffset: item.offset,
                        "A slice overlaps another on the same thread without nesting; it is nested under it, and "
                            + "its parent's self time counts it only up to the parent's end.")
                }
                parents[index] = top
                childTime[top] &+= min(end, topEnd) &- item.start
            }
            depths[index] = stack.count
            stack.append(index)
        }
        // Names were interned by the reader: equal names share a string, looked up once here.
        var ids = NameMemo<(UInt32, UInt32)>()
        for (index, item) in complete.enumerated() {
            let (nameID, categoryID) = ids.value(item.name, item.category) {
                (InternedNames.id($0), InternedNames.id($1))
            }
            (region + index).initialize(
                to: Slice(
                    nameID: nameID, categoryID: categoryID, start: TraceTimestamp(nanoseconds: item.start),
                    duration: TraceDuration(nanoseconds: item.duration), thread: thread, depth: depths[index],
                    parent: parents[index] >= 0 ? base + parents[index] : -1,
                    selfDuration: TraceDuration(nanoseconds: max(0, item.duration - childTime[index])),
                    threadDuration: item.threadDuration.map { TraceDuration(nanoseconds: $0) }, args: item.args))
        }
        return n
    }

    private mutating func buildAsync() -> [AsyncSlice] {
        struct Key: Hashable {
            var pid: Int64
            var category: String
            var id: String
        }
        let sorted = asyncEvents.sorted { $0.ts != $1.ts ? $0.ts < $1.ts : $0.order < $1.order }
        var open: [Key: [AsyncEvent]] = [:]
        var result: [AsyncSlice] = []
        for e in sorted {
            let key = Key(pid: e.pid, category: e.category, id: e.id)
            switch e.phase {
            case UInt8(ascii: "b"), UInt8(ascii: "S"):
                open[key, default: []].append(e)
            default:
                guard var stack = open[key], !stack.isEmpty else {
                    diagnostics.add(.unmatchedAsync, byteOffset: e.offset, Self.unmatchedAsyncMessage)
                    continue
                }
                // Close the innermost begin with this name, else the innermost.
                let i = stack.lastIndex { $0.name == e.name || e.name.isEmpty } ?? stack.count - 1
                let begin = stack.remove(at: i)
                open[key] = stack
                result.append(
                    AsyncSlice(
                        name: begin.name, category: begin.category, id: begin.id, pid: begin.pid,
                        start: TraceTimestamp(nanoseconds: begin.ts),
                        duration: TraceDuration(nanoseconds: e.ts - begin.ts),
                        depth: stack.count, args: begin.args ?? e.args))
            }
        }
        for (_, stack) in open {
            for b in stack {
                diagnostics.add(.unmatchedAsync, byteOffset: b.offset, Self.unmatchedAsyncMessage)
            }
        }
        return result.sorted { $0.start < $1.start }
    }

    private mutating func buildFlows() -> [Flow] {
        struct Key: Hashable {
            var category: String
            var id: String
        }
        let sorted = flowEvents.sorted { $0.ts != $1.ts ? $0.ts < $1.ts : $0.order < $1.order }
        var last: [Key: FlowEvent] = [:]
        // Ends seen before their start: across processes, clocks may disagree by a little, so
        // an end still pairs with the next start of its id.
        var earlyEnds: [Key: [FlowEvent]] = [:]
        var flows: [Flow] = []
        func arrow(_ from: FlowEvent, _ to: FlowEvent) -> Flow {
            Flow(
                id: to.id, name: from.name, category: from.category,
                from: (from.pid, from.thread, TraceTimestamp(nanoseconds: from.ts)),
                to: (to.pid, to.thread, TraceTimestamp(nanoseconds: to.ts)))
        }
        for e in sorted {
            let key = Key(category: e.category, id: e.id)
            switch e.phase {
            case UInt8(ascii: "s"):
                if let earlier = last[key] {
                    diagnostics.add(.danglingFlow, byteOffset: earlier.offset, Self.danglingFlowMessage)
                }
                if var ends = earlyEnds[key], !ends.isEmpty {
                    let end = ends.removeFirst()
                    earlyEnds[key] = ends
                    flows.append(arrow(e, end))
                    last[key] = end.phase == UInt8(ascii: "f") ? nil : end
                } else {
                    last[key] = e
                }
            default:
                guard let from = last[key] else {
                    earlyEnds[key, default: []].append(e)
                    continue
                }
                flows.append(arrow(from, e))
                if e.phase == UInt8(ascii: "f") { last[key] = nil } else { last[key] = e }
            }
        }
        for end in earlyEnds.values.joined().sorted(by: { $0.order < $1.order }) {
            diagnostics.add(.danglingFlow, byteOffset: end.offset, Self.danglingFlowMessage)
        }
        for open in last.values.sorted(by: { $0.order < $1.order }) where open.phase == UInt8(ascii: "s") {
            diagnostics.add(.danglingFlow, byteOffset: open.offset, Self.danglingFlowMessage)
        }
        return flows
    }
}

/// One thread's pending slices, handed to exactly one worker, which frees them when done.
private final class PendingBox: @unchecked Sendable {
    private var items: [ModelBuilder.PendingSlice]
    private var later: [ModelBuilder.PendingSlice]
    init(_ items: [ModelBuilder.PendingSlice], later: [ModelBuilder.PendingSlice]) {
        self.items = items
        self.later = later
    }
    /// The thread's pending slices in file order (a later part's after), given up by the box.
    func take() -> [ModelBuilder.PendingSlice] {
        var all = items
        items = []
        all.append(contentsOf: later)
        later = []
        return all
    }
}

/// Lets a buffer that each iteration of `concurrentPerform` writes at its own index cross into
/// the (synchronous) concurrent closure.
struct UnsafeSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
