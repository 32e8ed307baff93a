import CCTraceFormat

/// What the analysis concluded about a trace, stage by stage, before anything is put in words.
public struct Analysis: Sendable {
    /// Stages 1–3: classification, accounting, window and shape.
    public var profile: WorkProfile
    /// Stage 4: each analyzer's typed result.
    public var findings: Findings
    /// Stage 5a: each model's predicted window.
    public var whatIf: WhatIf
    /// Stage 5.
    public var recommendation: Recommendation
    public var options: AnalysisOptions
    /// Whether the trace was too long to analyze (``AnalysisPipeline/longestAnalyzedTrace``):
    /// then only its processes and threads were.
    public var tooLong: Bool
}

/// The analysis, assembled in one place. Each stage is one type in its own folder, reads the
/// stages before it and nothing else:
///
/// 1. `Classify/` — ``SliceClassification``: what every slice's own time was (work, lock wait,
///    I/O wait, waiting for a result, IPC), from cctrace's categories or call names
///    (`Languages/` holds each language's names and shapes).
/// 2. `Account/` — ``Accounting``: each thread's life split into running · runnable · lock ·
///    I/O · IPC · idle, with measured CPU where the trace has it, capped at the cores.
/// 3. `Window/` — ``WorkWindow`` (the window, workers, parallelism), ``LoopView`` (event
///    loops), ``ProgramShape`` (tasks, waits in flight, critical path, current model).
/// 4. `Analyzers/` — ``CPUSerializedAnalyzer``, ``LockContentionAnalyzer``,
///    ``BlockedEventLoopAnalyzer``, ``IPCOverheadAnalyzer``: typed results.
/// 5. `WhatIf/` — ``WhatIf``: the window under each model, from a replay of the recorded work;
///    `Recommend/` — ``Recommender``: the model that fits, the action, the reasons.
///
/// Words come after, in `Report/` (``AnalysisReport``, ``ReportRenderer``). Every threshold is
/// in ``Heuristics``; facts the trace lacks (cores) come from ``AnalysisOptions``.
public enum AnalysisPipeline {
    /// The longest trace the analysis takes on (about 27 hours): beyond it, figures summed over
    /// many threads and spans could leave 64-bit nanoseconds, and such a file is almost always a
    /// mix of clocks rather than a day of recording.
    public static let longestAnalyzedTrace = TraceDuration(nanoseconds: 100_000_000_000_000)

    /// Runs every stage on `model`.
    public static func run(_ model: TraceModel, options: AnalysisOptions = AnalysisOptions()) -> Analysis {
        let tooLong = model.duration > longestAnalyzedTrace
        let model = tooLong ? model.withoutActivity() : model
        let h = options.heuristics
        let cores = CoreCount.resolve(model, options: options)
        var timer = PhaseTimer()
        // Beside the classification's pass over the slices, what reads only the model: every
        // slice's (name, category) pair (for the passes that look for a few names), the GIL
        // waits the shim recorded, asyncio's task rows, the event loops.
        let side = Started {
            let facts = SliceClassification.modelOnly(model)
            return (facts, LoopView.find(in: model, names: facts.names, heuristics: h))
        }
        let classification = SliceClassification(model: model, heuristics: h) { side.join().0 }
        let loops = side.join().1
        timer.mark("classification and loops")
        // What the workload reads that needs only the classification and the loops, beside the
        // accounting's threads.
        let inputs = Started {
            Workload.Inputs(model: model, classification: classification, loops: loops, heuristics: h)
        }
        let (uncapped, capping) = Accounting.uncapped(
            model: model, classification: classification, cores: cores, heuristics: h)
        timer.mark("accounting")
        // The capping of the threads' CPU at the cores is one serial sweep, and the window's
        // extent and the what-if's workload do not depend on it (they read busy time and
        // activity, which it leaves as they are): the capping runs as the first job among the
        // workload's, which take a thread each, on every core.
        let language = SourceLanguage.detect(in: model, heuristics: h)
        var window = WorkWindow(
            model: model, classification: classification, accounting: uncapped, cores: cores, heuristics: h)
        var capped: Accounting? = nil
        let workload = WhatIf.workload(
            model: model, classification: classification, accounting: uncapped, workWindow: window, loops: loops,
            heuristics: h, inputs: inputs.join()
        ) {
            var a = uncapped
            a.cap(capping)
            capped = a
        }
        let accounting = capped!
        window.capped(by: accounting)
        timer.mark("window and workload beside the capping")
        // The replay of the work as it ran needs nothing after the window (and the language):
        // beside the program's shape, the profile and the pool analysis.
        let (calibrationStart, (profile, pools)) = beside(
            {
                workload.flatMap {
                    WhatIf.calibrationStart(
                        workload: $0, cores: cores.count, gil: language == .python, measured: window.length,
                        heuristics: h)
                }
            },
            { () -> (WorkProfile, PoolBlocking) in
                let shape = ProgramShape(
                    model: model, classification: classification, accounting: accounting, window: window, loops: loops,
                    heuristics: h, units: (inputs.join().unitParents, inputs.join().topLevelUnits))
                let profile = WorkProfile(
                    classification: classification, accounting: accounting, workWindow: window, shape: shape,
                    loops: loops, language: language, coreCount: cores)
                return (profile, CooperativePoolAnalyzer.analyze(model, profile: profile, options: options))
            })
        timer.mark("replay of now beside shape, profile and pools")
        // The what-if needs only the pool analysis of the findings: the other analyzers run
        // beside it. The calibration's search for the CPU scale and the models' replays at that
        // scale would be two serial runs of replays; the models are replayed at the search's
        // first guess instead, beside the search's own replay there, and again only when the
        // search goes on past it (its first guess is proportional and usually within its
        // margin). Without a search the scale is the recorded CPU's.
        let (whatIf, findings) = beside(
            {
                predictWhatIf(
                    model: model, profile: profile, pools: pools, heuristics: h, workload: workload,
                    start: calibrationStart, measured: window.length)
            },
            {
                Findings(
                    serialization: CPUSerializedAnalyzer.analyze(model, profile: profile, options: options),
                    locks: LockContentionAnalyzer.analyze(model, profile: profile, options: options),
                    loops: BlockedEventLoopAnalyzer.analyze(model, profile: profile, options: options),
                    pools: pools,
                    actors: ActorContentionAnalyzer.analyze(model, profile: profile, options: options),
                    ipc: IPCOverheadAnalyzer.analyze(model, profile: profile, options: options),
                    requests: CrossHostAnalyzer.analyze(model))
            })
        timer.mark("analyzers and what-if")
        var recommendation = Recommender.recommend(
            profile: profile, findings: findings, whatIf: whatIf, options: options)
        if tooLong { recommendation.reasons = [.traceTooLong(model.duration, limit: longestAnalyzedTrace)] }
        return Analysis(
            profile: profile, findings: findings, whatIf: whatIf, recommendation: recommendation, options: options,
            tooLong: tooLong)
    }
}

extension AnalysisPipeline {
    /// The what-if from the calibration's start: the models replayed at the search's first
    /// guess beside the search's own replay there (see ``run(_:options:)``).
    fileprivate static func predictWhatIf(
        model: TraceModel, profile: WorkProfile, pools: PoolBlocking, heuristics h: Heuristics, workload: Workload?,
        start: WhatIf.CalibrationStart?, measured: Int64
    ) -> WhatIf {
        guard let workload, let start else {
            return WhatIf.predict(
                model: model, profile: profile, pools: pools, heuristics: h, workload: workload, calibration: nil)
        }
        var firstGuess: (@Sendable () -> Int64?)? = nil
        var known: (scale: Double, time: Int64?)? = nil
        if let guess = start.guess {
            let replay = start.replay
            firstGuess = { replay.run(scale: guess) }
        }
        let (replays, firstTry) = WhatIf.replayModels(
            profile: profile, workload: workload, heuristics: h, scale: start.guess ?? 1, beside: firstGuess)
        if let guess = start.guess { known = (guess, firstTry) }
        let calibration = WhatIf.calibrate(from: start, measured: measured, heuristics: h, known: known)
        return WhatIf.predict(
            model: model, profile: profile, pools: pools, heuristics: h, workload: workload,
            calibration: calibration, replays: replays)
    }
}

extension TraceModel {
    /// Whether the model holds anything to analyze: a slice, task, instant, counter, flow or
    /// sample (metadata alone is not a trace of a program).
    public var hasEvents: Bool {
        !(slices.isEmpty && asyncSlices.isEmpty && instants.isEmpty && counters.isEmpty && flows.isEmpty
            && samples.isEmpty)
    }

    /// The model with its processes and threads but no activity (slices, tasks, counters, flows).
    func withoutActivity() -> TraceModel {
        var m = self
        m.slices = []
        m.foundNames = nil
        m.asyncSlices = []
        m.instants = []
        m.counters = []
        m.flows = []
        m.samples = []
        m.lockWaits = []
        m.lockHolds = []
        m.eventLoops = []
        m.ipcMessages = []
        m.threads = threads.map {
            var t = $0
            t.sliceRange = 0..<0
            t.cpu = nil
            return t
        }
        return m
    }
}
