import CCTraceFormat

/// Two analyzed runs of one program side by side (`cctrace diff BEFORE AFTER`): the wall time
/// of their work, where the threads' time went, each finding's key figure and the
/// recommendation — with whether each change is beyond run-to-run noise.
///
/// **Noise.** A figure of one run is known to ±``Heuristics/diffNoise`` (5 %: a program's wall
/// time varies that much between runs on a shared machine, for reasons that act on the whole
/// run and so show in no single trace), widened by the run's own variation where it has
/// repeated items: top-level spans of one name on the worker threads, repeated at least
/// ``Heuristics/repeatedItems`` times. Their durations' spread gives the spread of their
/// total — n items of standard deviation σ add up to σ√n — and twice that, over the total, is
/// the run's relative half-width (≈ 95 %). A change is real when the two runs' ranges do not
/// overlap and it is larger than ``Heuristics/diffMinimumChange`` (durations) or
/// ``Heuristics/diffMinimumShareChange`` (shares).
public struct TraceDiff: Sendable {
    /// Which way a figure is better.
    public enum Direction: String, Sendable {
        case lower, higher
        /// Neither: what the time was spent on (running, I/O) changes with the model.
        case neutral
    }

    /// What happened to a figure between the runs.
    public enum Change: String, Sendable {
        case better, worse
        /// Beyond noise, on a figure with no better direction.
        case changed
        /// Within noise.
        case unchanged
    }

    /// How a figure is written.
    public enum Unit: String, Sendable {
        case milliseconds = "ms"
        case share
        case factor
    }

    /// One figure of both runs.
    public struct Figure: Sendable {
        /// The JSON key (`wall_ms`, `lock_wait_share`, …).
        public var key: String
        /// In words.
        public var label: String
        /// How it is written.
        public var unit: Unit
        /// Which way is better.
        public var direction: Direction
        /// The two runs' values.
        public var before: Double
        public var after: Double
        /// Each run's range (value ± its noise).
        public var beforeRange: ClosedRange<Double>
        public var afterRange: ClosedRange<Double>
        /// Better, worse, changed or unchanged, judged against the ranges.
        public var change: Change
    }

    /// What happened to one finding (a rule on one subject) between the runs.
    public enum FindingStatus: String, Sendable {
        /// Present before (info or warning), absent or ok after.
        case gone
        /// Absent or ok before, present after.
        case new
        case better, worse, unchanged
    }

    /// One finding in both runs.
    public struct FindingChange: Sendable {
        /// The rule (`lock-contention`, …).
        public var id: String
        /// The subject as the after run names it (the before run's when gone).
        public var subject: String
        /// `nil`: absent, or ok.
        public var before: Severity?
        public var after: Severity?
        /// The finding's key figure (`total_wait_ms` for lock contention, …) in both runs.
        public var metric: Figure?
        /// The key figure's label, unit and value in each run that has the finding.
        public var metricLabel: String?
        public var metricUnit: Unit = .factor
        public var beforeValue: Double?
        public var afterValue: Double?
        /// Gone, new, better, worse or unchanged.
        public var status: FindingStatus
        /// Whether this change makes the after run worse: a new warning, a finding that became
        /// a warning, or a warning whose key figure got worse beyond noise.
        public var regression: Bool
        /// Each report's sentence.
        public var summaryBefore: String?
        public var summaryAfter: String?
    }

    /// One run.
    public struct Side: Sendable {
        /// The trace and how many events it held.
        public var path: String
        public var events: Int
        /// The model the run uses, and how it was detected.
        public var currentModel: ConcurrencyModel
        public var currentDetail: String
        /// What its report recommends, whether that is a change, the expected speedup, the headline.
        public var model: ConcurrencyModel
        public var change: Bool
        public var expectedSpeedup: Double
        public var headline: String
        /// The run's relative half-width of noise (≥ ``Heuristics/diffNoise``).
        public var noise: Double
        /// The repeated items the noise was measured from (0: the floor alone).
        public var items: Int
    }

    /// The two runs.
    public var before: Side
    public var after: Side
    /// Wall time, parallelism and the time shares.
    public var figures: [Figure]
    /// Every finding of either run that is not ok.
    public var findings: [FindingChange]
    /// Before's work window over after's (> 1: faster), when both have one.
    public var speedup: Double?
    /// Whether the speedup (or slowdown) is beyond noise.
    public var speedupBeyondNoise: Bool
    /// What got worse, one line each (for `--fail-on-regression`).
    public var regressions: [String]

    /// The keys of each finding's key figure and which way it is better.
    static let keyMetrics: [String: (key: String, label: String, direction: Direction)] = [
        CPUSerializedAnalyzer.id: ("parallelism", "parallelism", .higher),
        LockContentionAnalyzer.id: ("total_wait_ms", "total wait", .lower),
        BlockedEventLoopAnalyzer.id: ("blocked_ms", "time blocked", .lower),
        CooperativePoolAnalyzer.id: ("blocked_ms", "pool time blocked", .lower),
        ActorContentionAnalyzer.id: ("busy_share", "actor busy share", .lower),
        IPCOverheadAnalyzer.id: ("ipc_tax", "IPC tax", .lower),
    ]

    /// Compares `before` (of `beforeModel`) with `after`.
    public init(
        before: AnalysisReport, beforeModel: TraceModel, beforePath: String,
        after: AnalysisReport, afterModel: TraceModel, afterPath: String
    ) {
        let h = after.options.heuristics
        let b = Self.side(before, beforeModel, beforePath, h)
        let a = Self.side(after, afterModel, afterPath, h)
        self.before = b
        self.after = a
        let compare = Comparer(beforeNoise: b.noise, afterNoise: a.noise, heuristics: h)
        figures = Self.figures(before.profile, after.profile, compare)
        findings = Self.pair(before.findings, after.findings, compare)
        let wb = Double(before.profile.window), wa = Double(after.profile.window)
        speedup = wb > 0 && wa > 0 ? wb / wa : nil
        speedupBeyondNoise = figures.first { $0.key == "wall_ms" }.map { $0.change != .unchanged } ?? false
        var regressions: [String] = []
        if let wall = figures.first(where: { $0.key == "wall_ms" }), wall.change == .worse {
            regressions.append(
                "wall time \(Self.format(wall.before, wall.unit)) → \(Self.format(wall.after, wall.unit)), "
                    + "beyond noise")
        }
        for f in findings where f.regression {
            let subject = f.subject.isEmpty ? "" : " (\(f.subject))"
            switch f.status {
            case .new: regressions.append("\(f.id)\(subject): new \(f.after?.rawValue ?? "")")
            case .worse where f.before != f.after:
                regressions.append("\(f.id)\(subject): \(f.before?.rawValue ?? "-") → \(f.after?.rawValue ?? "-")")
            default:
                if let m = f.metric {
                    regressions.append(
                        "\(f.id)\(subject): \(m.label) \(Self.format(m.before, m.unit)) → \(Self.format(m.after, m.unit))"
                    )
                }
            }
        }
        self.regressions = regressions
    }

    // MARK: - Sides and noise

    static func side(_ r: AnalysisReport, _ model: TraceModel, _ path: String, _ h: Heuristics) -> Side {
        let (spread, items) = itemSpread(model, r.profile, minimumRepeats: max(2, h.repeatedItems))
        return Side(
            path: path, events: model.eventCount, currentModel: r.recommendation.current.model,
            currentDetail: r.currentDetail, model: r.recommendation.model, change: r.recommendation.change,
            expectedSpeedup: r.recommendation.expectedSpeedup, headline: r.headline,
            noise: max(h.diffNoise, spread), items: items)
    }

    /// The relative half-width (2σ over the total) of the worker threads' repeated top-level
    /// items (their outermost spans of the app's own — not cctrace's loop ticks, task runs
    /// or waits), and how many items it came from. An item's lock waits are left out of its
    /// duration: queueing for a lock moves time between items (who got it first), while the
    /// total the lock serializes is its holders' work — counting the waits would make a
    /// contended program look noisier than its runs are.
    static func itemSpread(_ model: TraceModel, _ profile: WorkProfile, minimumRepeats: Int) -> (Double, Int) {
        var threads = profile.workers.map(\.thread)
        if threads.isEmpty { threads = profile.threads.map(\.thread) }
        struct Sums {
            var n = 0.0, sum = 0.0, squares = 0.0
        }
        var groups: [String: Sums] = [:]
        let kinds = profile.sliceKinds
        func add(_ name: String, _ d: Double) {
            groups[name, default: Sums()].n += 1
            groups[name]!.sum += d
            groups[name]!.squares += d * d
        }
        for t in threads where t < model.threads.count {
            var item: (name: String, duration: Double, depth: Int, end: TraceTimestamp)?
            for (i, s) in zip(model.threads[t].sliceRange, model.slices(ofThread: t)) {
                if let current = item, s.depth > current.depth, s.start < current.end {
                    if i < kinds.count, kinds[i] == .lockWait { item!.duration -= Double(s.duration.nanoseconds) }
                    continue
                }
                // An item is the app's own outermost span: cctrace's structural spans (loop
                // ticks, task runs, waits) hold different work each time, not repetitions.
                guard !s.category.hasPrefix("cctrace.") else { continue }
                if let current = item { add(current.name, current.duration) }
                item = (s.name, Double(s.duration.nanoseconds), s.depth, s.end)
            }
            if let item { add(item.name, item.duration) }
        }
        var variance = 0.0, total = 0.0, items = 0
        for g in groups.values where g.n >= Double(minimumRepeats) {
            let mean = g.sum / g.n
            // Sample variance of one item, times n items: the variance of their total.
            let itemVariance = max(0, (g.squares - g.n * mean * mean) / (g.n - 1))
            variance += itemVariance * g.n
            total += g.sum
            items += Int(g.n)
        }
        guard total > 0 else { return (0, 0) }
        return (2 * variance.squareRoot() / total, items)
    }

    /// Judges one figure's change from the two runs' noise.
    struct Comparer {
        var beforeNoise: Double
        var afterNoise: Double
        var heuristics: Heuristics

        func figure(
            _ key: String, _ label: String, _ unit: Unit, _ direction: Direction, _ before: Double, _ after: Double
        ) -> Figure {
            let rb = (before - abs(before) * beforeNoise)...(before + abs(before) * beforeNoise)
            let ra = (after - abs(after) * afterNoise)...(after + abs(after) * afterNoise)
            let minimum: Double
            switch unit {
            case .milliseconds: minimum = Double(heuristics.diffMinimumChange.nanoseconds) / 1e6
            case .share: minimum = heuristics.diffMinimumShareChange
            case .factor: minimum = key == "parallelism" ? heuristics.diffMinimumParallelismChange : 0
            }
            let beyond = !rb.overlaps(ra) && abs(after - before) >= minimum
            let change: Change
            if !beyond {
                change = .unchanged
            } else {
                switch direction {
                case .neutral: change = .changed
                case .lower: change = after < before ? .better : .worse
                case .higher: change = after > before ? .better : .worse
                }
            }
            return Figure(
                key: key, label: label, unit: unit, direction: direction, before: before, after: after,
                beforeRange: rb, afterRange: ra, change: change)
        }
    }

    // MARK: - Figures

    static func figures(_ b: WorkProfile, _ a: WorkProfile, _ c: Comparer) -> [Figure] {
        var out = [
            c.figure("wall_ms", "wall time (work window)", .milliseconds, .lower, ms(b.window), ms(a.window)),
            c.figure("parallelism", "parallelism (cores busy)", .factor, .higher, b.parallelism, a.parallelism),
        ]
        let tb = b.total, ta = a.total
        // Busy parts as shares of the busy time (they add up to 100 %, as in the report's
        // reasons); idle as a share of all thread time.
        let parts: [(String, String, Direction, KeyPath<TimeSplit, Int64>)] = [
            ("running_share", "running", .neutral, \.running),
            ("runnable_share", "runnable (wanting a core)", .lower, \.runnable),
            ("lock_wait_share", "lock wait", .lower, \.lockWait),
            ("io_wait_share", "I/O wait", .neutral, \.ioWait),
            ("ipc_share", "IPC", .lower, \.ipc),
        ]
        for (key, label, direction, path) in parts {
            out.append(
                c.figure(
                    key, label + " share", .share, direction, share(tb[keyPath: path], tb.busy),
                    share(ta[keyPath: path], ta.busy)))
        }
        out.append(
            c.figure(
                "idle_share", "idle share (of thread time)", .share, .neutral, share(tb.idle, tb.total),
                share(ta.idle, ta.total)))
        return out
    }

    static func ms(_ ns: Int64) -> Double { Double(ns) / 1e6 }
    static func share(_ part: Int64, _ whole: Int64) -> Double { whole > 0 ? Double(part) / Double(whole) : 0 }

    // MARK: - Findings

    /// The subject without what changes between runs of one program: addresses and ids
    /// (pids, tids, object ids) — `lock 0x7f3a…` and `swift pool (pid 4242)` match their
    /// counterparts in the other run.
    static func normalized(_ subject: String) -> String {
        var out = ""
        var digits = ""
        var chars = Array(subject)[...]
        func flushDigits() {
            out += digits.count >= 3 ? "#" : digits
            digits = ""
        }
        while let c = chars.first {
            if c == "0", chars.dropFirst().first == "x" {
                flushDigits()
                chars = chars.dropFirst(2).drop { $0.isHexDigit }
                out += "0x#"
                continue
            }
            chars = chars.dropFirst()
            if c.isASCII && c.isNumber {
                digits.append(c)
            } else {
                flushDigits()
                out.append(c)
            }
        }
        flushDigits()
        return out
    }

    static func pair(_ before: [Finding], _ after: [Finding], _ c: Comparer) -> [FindingChange] {
        let b = before.filter { $0.severity != .ok }
        let a = after.filter { $0.severity != .ok }
        var usedAfter = Set<Int>()
        var pairs: [(Finding?, Finding?)] = []
        var unmatched: [Finding] = []
        for f in b {
            let key = normalized(f.subject)
            if let j = a.indices.first(where: {
                !usedAfter.contains($0) && a[$0].id == f.id && normalized(a[$0].subject) == key
            }) {
                usedAfter.insert(j)
                pairs.append((f, a[j]))
            } else {
                unmatched.append(f)
            }
        }
        // A rule with one unmatched finding on each side is about the same thing renamed
        // (a lock's name came from another call site): pair them.
        for f in unmatched {
            let left = unmatched.filter { $0.id == f.id }.count
            let right = a.indices.filter { !usedAfter.contains($0) && a[$0].id == f.id }
            if left == 1, right.count == 1 {
                usedAfter.insert(right[0])
                pairs.append((f, a[right[0]]))
            } else {
                pairs.append((f, nil))
            }
        }
        for j in a.indices where !usedAfter.contains(j) { pairs.append((nil, a[j])) }
        return pairs.map { change($0.0, $0.1, c) }
    }

    static func change(_ b: Finding?, _ a: Finding?, _ c: Comparer) -> FindingChange {
        let id = (a ?? b)!.id
        var metric: Figure?
        let k = keyMetrics[id]
        let vb = k.flatMap { k in b.flatMap { value($0, k.key) } }
        let va = k.flatMap { k in a.flatMap { value($0, k.key) } }
        if let k {
            if let vb, let va {
                metric = c.figure(k.key, k.label, unit(of: k.key), k.direction, vb, va)
            }
        }
        let status: FindingStatus
        var regression = false
        switch (b?.severity, a?.severity) {
        case (nil, _?):
            status = .new
            regression = a?.severity == .warning
        case (_?, nil):
            status = .gone
        case (let sb?, let sa?) where sa > sb:
            status = .worse
            regression = sa == .warning
        case (let sb?, let sa?) where sa < sb:
            status = .better
        default:
            switch metric?.change {
            case .better: status = .better
            case .worse:
                status = .worse
                regression = a?.severity == .warning
            default: status = .unchanged
            }
        }
        return FindingChange(
            id: id, subject: (a ?? b)!.subject, before: b?.severity, after: a?.severity, metric: metric,
            metricLabel: k?.label, metricUnit: k.map { unit(of: $0.key) } ?? .factor, beforeValue: vb, afterValue: va,
            status: status, regression: regression, summaryBefore: b?.summary, summaryAfter: a?.summary)
    }

    static func value(_ f: Finding, _ key: String) -> Double? {
        f.metrics.first { $0.0 == key }?.1 ?? nil
    }

    static func unit(of key: String) -> Unit {
        key.hasSuffix("_ms") ? .milliseconds : key.hasSuffix("_share") ? .share : .factor
    }

    // MARK: - Words

    static func format(_ v: Double, _ unit: Unit) -> String {
        switch unit {
        case .milliseconds: return Text.ms(Int64((v * 1e6).rounded()))
        case .share: return Text.pct(v)
        case .factor: return SummaryRenderer.format3(v)
        }
    }

    /// The change of `f` in words: `−46 %`, `+12 points`, `×2.0`.
    static func delta(_ f: Figure) -> String {
        switch f.unit {
        case .share:
            let points = (f.after - f.before) * 100
            if points == 0 { return "0 pts" }
            return (points >= 0 ? "+" : "−") + SummaryRenderer.format3(abs(points)) + " pts"
        default:
            guard f.before != 0 else { return f.after == 0 ? "0" : "new" }
            let pct = (f.after - f.before) / abs(f.before) * 100
            return (pct >= 0 ? "+" : "−") + SummaryRenderer.format3(abs(pct)) + " %"
        }
    }
}
