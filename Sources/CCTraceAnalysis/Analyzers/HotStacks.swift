import CCTraceFormat

/// Where threads spent their samples: the profiler's CPU samples aggregated into the most
/// frequent stacks per thread, and the stacks sampled on a thread within a stretch of time (a
/// slow callback) — from cctrace's `cctrace.sample` instants or any tool's `samples`.
public struct HotStacks: Sendable {
    /// A stack and how often it was sampled.
    public struct Stack: Sendable {
        /// Frames, innermost first (function names; offsets and images dropped).
        public var frames: [String]
        public var count: Int
        /// Share of the thread's (or the stretch's) samples.
        public var share: Double
    }

    /// One thread's hottest stacks.
    public struct ThreadStacks: Sendable {
        public var thread: Int
        public var label: String
        public var samples: Int
        public var stacks: [Stack]
    }

    /// Threads with CPU samples, most sampled first.
    public var threads: [ThreadStacks]

    /// How many frames identify a stack when counting (the innermost ones).
    static let keyDepth = 8

    public init(model: TraceModel, top: Int = 3) {
        var byThread: [Int: [Int]] = [:]
        for (i, s) in model.samples.enumerated() where s.thread >= 0 && s.name != TraceVocabulary.Event.loopStall.string
        {
            byThread[s.thread, default: []].append(i)
        }
        threads = byThread.map { thread, indexes in
            ThreadStacks(
                thread: thread, label: model.threads[thread].label, samples: indexes.count,
                stacks: Self.rank(indexes.map { model.samples[$0] }, in: model, top: top))
        }
        .sorted { ($0.samples, $1.thread) > ($1.samples, $0.thread) }
    }

    /// The most frequent stacks among `samples`.
    static func rank(_ samples: [Sample], in model: TraceModel, top: Int) -> [Stack] {
        var counts: [[String]: Int] = [:]
        for s in samples {
            guard let leaf = s.stackFrame else { continue }
            let frames = appFrames(model.stack(of: leaf).map(\.name))
            counts[Array(frames.prefix(keyDepth)), default: 0] += 1
        }
        let total = max(samples.count, 1)
        return counts.sorted { ($0.value, $1.key.joined()) > ($1.value, $0.key.joined()) }.prefix(top).map {
            Stack(frames: $0.key, count: $0.value, share: Double($0.value) / Double(total))
        }
    }

    /// The stacks sampled on `thread` between `start` and `end`: the watchdog's captures of a
    /// stuck loop first, else CPU samples.
    static func sampled(on thread: Int, from start: TraceTimestamp, to end: TraceTimestamp, in model: TraceModel)
        -> [Stack]
    {
        let lower = firstSample(atOrAfter: start, in: model)
        var stalls: [Sample] = []
        var cpu: [Sample] = []
        var i = lower
        while i < model.samples.count, model.samples[i].timestamp <= end {
            let s = model.samples[i]
            if s.thread == thread {
                if s.name == TraceVocabulary.Event.loopStall.string { stalls.append(s) } else { cpu.append(s) }
            }
            i += 1
        }
        return rank(stalls.isEmpty ? cpu : stalls, in: model, top: 2)
    }

    static func firstSample(atOrAfter t: TraceTimestamp, in model: TraceModel) -> Int {
        var lo = 0
        var hi = model.samples.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if model.samples[mid].timestamp < t { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Frames worth showing: function names without offsets and images, the sampler's and the
    /// runtime's plumbing (thunks, unresolved addresses) left out.
    static func appFrames(_ frames: [String]) -> [String] {
        // Innermost frames in the C library or the vDSO (a clock read, a memcpy) say less than
        // the program's frame that called them: start at the program's, when there is one.
        func isSystem(_ f: String) -> Bool {
            f.contains("(libc.so.6)") || f.contains("(linux-vdso.so.1)") || f.contains("(ld-linux")
                || f.contains("(libpthread")
        }
        var frames = frames
        if let firstOwn = frames.firstIndex(where: { !isSystem($0) && !$0.hasPrefix("0x") }), firstOwn > 0,
            !frames[0].contains("blocked in the kernel")
        {
            frames.removeFirst(firstOwn)
        }
        let names = frames.map(LockContentionAnalyzer.shortFrame)
        let kept = names.filter { !SwiftRuntime.isPlumbingFrame($0) }
        return kept.isEmpty ? names : kept
    }
}
