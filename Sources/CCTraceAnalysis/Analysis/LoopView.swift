import CCTraceFormat

/// An event loop as the analysis sees it: cctrace's loops (`cctrace.loop` slices, `loop lag`
/// counters), a traced task pool's heartbeat, or a loop recognized by shape in other tools'
/// traces (Python asyncio's `_run_once` iterations running `Handle._run` callbacks).
public struct LoopView: Sendable {
    /// Where the loop was found.
    public enum Source: String, Sendable {
        case cctrace, asyncio
        /// A task pool's heartbeat (cctrace's `cctrace-pool`): lag, no callbacks of its own.
        case pool
    }

    public var name: String
    public var pid: Int64
    /// The loop's thread (index into ``TraceModel/threads``), or -1 when it has no callbacks.
    public var thread: Int
    public var source: Source
    /// Callback/tick slices (indexes into ``TraceModel/slices``).
    public var callbacks: [Int]
    /// The lag counter (index into ``TraceModel/counters``), when recorded.
    public var lagCounter: Int?
    /// The most callbacks one loop iteration ran (asyncio): how many waits completed together.
    public var readyBurst: Int

    /// Every loop in `model`.
    public static func find(in model: TraceModel) -> [LoopView] {
        var loops: [LoopView] = []
        for info in model.eventLoops {
            let thread = info.callbacks.first.map { model.slices[$0].thread } ?? -1
            let isPool = info.callbacks.isEmpty
            loops.append(
                LoopView(
                    name: info.name, pid: info.pid, thread: thread, source: isPool ? .pool : .cctrace,
                    callbacks: info.callbacks, lagCounter: info.lag, readyBurst: 0))
        }
        // asyncio: `Handle._run` slices (and `_run_once` iterations around them).
        var byThread: [Int: [Int]] = [:]
        for (i, s) in model.slices.enumerated() where s.category != TraceCategory.loop.rawValue {
            let base = SliceClassifier.baseName(s.name)
            if base.hasSuffix("Handle._run") { byThread[s.thread, default: []].append(i) }
        }
        for (thread, callbacks) in byThread.sorted(by: { $0.key < $1.key }) where callbacks.count >= 2 {
            var perIteration: [Int: Int] = [:]
            for c in callbacks { perIteration[model.slices[c].parent, default: 0] += 1 }
            let t = model.threads[thread]
            loops.append(
                LoopView(
                    name: "asyncio loop on \(t.label)", pid: t.pid, thread: thread, source: .asyncio,
                    callbacks: callbacks, lagCounter: nil, readyBurst: perIteration.values.max() ?? 0))
        }
        return loops
    }
}
