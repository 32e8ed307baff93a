import CCTraceFormat

/// The analyzers' results in words: each becomes one or more ``Finding``s (an all-clear when
/// there is nothing to say), and each piece of evidence a line.
enum FindingText {
    static func findings(_ f: Findings) -> [Finding] {
        var out =
            serialization(f.serialization) + locks(f.locks) + loops(f.loops) + pools(f.pools) + actors(f.actors)
            + ipc(f.ipc) + requests(f.requests)
        // Warnings first, then info, then ok; stable within a severity.
        out = out.enumerated().sorted { ($0.element.severity, -$0.offset) > ($1.element.severity, -$1.offset) }
            .map(\.element)
        return out
    }

    // MARK: - cpu-serialized

    static func serialization(_ r: CPUSerialization) -> [Finding] {
        let id = CPUSerializedAnalyzer.id
        guard !r.serialized.isEmpty else {
            let text =
                r.workers >= 2
                ? "CPU work ran in parallel where there was any (\(SummaryRenderer.format3(r.parallelism)) threads on a CPU on average)."
                : "No CPU-bound work spread over several threads."
            return [Finding(id: id, severity: .ok, summary: text, inferred: !r.cpuMeasured)]
        }
        return r.serialized.map { s in
            if s.inferred {
                return Finding(
                    id: id, severity: .warning, subject: "the GIL",
                    summary:
                        "CPU-bound Python work on \(s.threads) threads of \(s.process) (\(Text.pct(s.cpuShare)) "
                        + "of their busy time is work, not waiting): CPython's global interpreter lock runs one "
                        + "thread's Python code at a time, so they share one core.",
                    inferred: true,
                    metrics: [
                        ("threads", Double(s.threads)), ("parallelism", 1),
                        ("potential_parallelism", Double(s.potential)), ("cpu_share", s.cpuShare),
                    ], evidence: s.evidence)
            }
            let (subject, cause) = Self.cause(s)
            // A critical section around part of the work: lock-contention is the finding to act
            // on; the serialization is its consequence (said, not warned about twice). With no
            // cause the trace shows, it is a fact about the program's structure, not an alarm.
            return Finding(
                id: id, severity: s.partialCriticalSection || s.cause == .unknown ? .info : .warning,
                subject: subject,
                summary:
                    "CPU-bound work on \(s.threads) threads of \(s.process) ran on \(SummaryRenderer.format3(s.parallelism)) "
                    + "core\(s.parallelism == 1 ? "" : "s") at a time out of \(s.potential) available: \(cause).",
                metrics: [
                    ("threads", Double(s.threads)), ("parallelism", s.parallelism),
                    ("potential_parallelism", Double(s.potential)), ("cpu_share", s.cpuShare),
                    ("lock_share", s.lockShare), ("hold_share", s.holdShare),
                ], evidence: s.evidence)
        }
    }

    static func cause(_ s: SerializedWork) -> (subject: String, cause: String) {
        switch s.cause {
        case .lock(let name):
            let subject = name.map { "lock '\($0)'" } ?? "one lock"
            return (
                subject,
                "they took turns on \(subject): \(Text.pct(s.lockShare ?? 0)) of their busy time was spent waiting for it"
                    + (s.holdShare.map { ", and it was held for \(Text.pct($0)) of their CPU time" } ?? "")
            )
        case .oneBusyThread(let label, let share):
            return (label, "\(label) did \(Text.pct(share)) of the CPU work while the others waited")
        case .gil:
            return (
                "the GIL",
                "CPython's global interpreter lock lets one thread run Python code at a time (they queue "
                    + "for it in condition waits)"
            )
        case .unknown:
            return ("threads", "the threads rarely ran at the same time")
        }
    }

    // MARK: - lock-contention

    static func lockName(_ l: LockName) -> String {
        switch l {
        case .named(let n): n
        case .takenIn(let caller): "lock taken in \(caller ?? "top level")"
        case .withBlockIn(let function): "lock entered with `with` in \(function)"
        }
    }

    static func locks(_ r: LockContention) -> [Finding] {
        let id = LockContentionAnalyzer.id
        guard !r.locks.isEmpty else {
            return [
                Finding(
                    id: id, severity: .ok, summary: "No thread waited for a lock another thread held.",
                    inferred: r.namesInferred)
            ]
        }
        return r.locks.map { l in
            let name = lockName(l.lock)
            var sentence =
                "Lock '\(name)' made \(l.waiters) \(Text.plural(l.waiters, "thread")) wait \(Text.ms(l.total)) "
                + "in \(l.waits) \(Text.plural(l.waits, "wait")) (p50 \(Text.ms(l.p50)), p95 \(Text.ms(l.p95)), "
                + "max \(Text.ms(l.max))): \(Text.pct(l.waitersBusyShare)) of the waiters' busy time"
            if let holder = l.topHolder { sentence += "; \(holder) held it for \(Text.pct(l.topHolderShare)) of that" }
            sentence += "."
            return Finding(
                id: id, severity: l.severity, subject: name, summary: sentence, inferred: l.inferred,
                metrics: [
                    ("total_wait_ms", Text.millis(l.total)), ("waits", Double(l.waits)), ("waiters", Double(l.waiters)),
                    ("p50_ms", Text.millis(l.p50)), ("p95_ms", Text.millis(l.p95)), ("max_ms", Text.millis(l.max)),
                    ("waiters_busy_share", l.waitersBusyShare),
                ], evidence: l.evidence)
        }
    }

    // MARK: - blocked-event-loop

    static func loops(_ r: LoopBlocking) -> [Finding] {
        let id = BlockedEventLoopAnalyzer.id
        guard !r.loops.isEmpty else {
            let text =
                r.loopsFound == 0
                ? "No event loop in the trace."
                : "No callback held an event loop for \(Text.ms(r.slowCallback)) or more."
            return [Finding(id: id, severity: .ok, summary: text)]
        }
        return r.loops.map { l in
            var metrics: [(String, Double?)] = [
                ("slow_callbacks", Double(l.slowCallbacks)), ("blocked_ms", Text.millis(l.blocked)),
                ("blocked_share", l.blockedShare), ("callbacks", Double(l.callbacks)),
                ("longest_ms", Text.millis(l.longest)),
            ]
            if let lag = l.lag {
                metrics += [
                    ("lag_p50_ms", Text.millis(lag.p50)), ("lag_p99_ms", Text.millis(lag.p99)),
                    ("lag_max_ms", Text.millis(lag.max)),
                ]
            }
            return Finding(
                id: id, severity: l.severity, subject: l.name, summary: loopSummary(l, slow: r.slowCallback),
                inferred: l.inferred, metrics: metrics, evidence: l.evidence)
        }
    }

    static func loopSummary(_ l: LoopStats, slow: Int64) -> String {
        var sentence: String
        if l.slowCallbacks == 0 {
            sentence =
                "Loop '\(l.name)': no callback reached \(Text.ms(slow)) (longest \(Text.ms(l.longest)) of \(l.callbacks))"
        } else {
            let listed = l.offenders.prefix(4).map { "'\($0)'" }.joined(separator: ", ")
            sentence =
                "Loop '\(l.name)' was blocked \(l.slowCallbacks) \(Text.plural(l.slowCallbacks, "time")) for "
                + "\(Text.ms(l.blocked)) (\(Text.pct(l.blockedShare)) of its time) by callbacks of \(Text.ms(slow)) or more: \(listed)"
        }
        if let lag = l.lag {
            sentence +=
                "; heartbeat lag p50 \(Text.ms(lag.p50)), p99 \(Text.ms(lag.p99)), max \(Text.ms(lag.max))"
        }
        return sentence + "."
    }

    // MARK: - blocked-cooperative-pool

    static func pools(_ r: PoolBlocking) -> [Finding] {
        let id = CooperativePoolAnalyzer.id
        // Only programs whose Swift tasks were traced have a pool to speak of: elsewhere the
        // finding would only add a line to every report.
        guard !r.pools.isEmpty else { return [] }
        return r.pools.map { p in
            Finding(
                id: id, severity: p.severity, subject: "swift pool (pid \(p.pid))", summary: poolSummary(p),
                metrics: [
                    ("jobs", Double(p.jobs)), ("tasks", Double(p.tasks)), ("tasks_in_flight", Double(p.tasksInFlight)),
                    ("pool_threads", Double(p.threads)), ("job_ms", Text.millis(p.jobTime)),
                    ("blocked_ms", Text.millis(p.blocked)), ("blocked_share", p.blockedShare),
                    ("mean_queued_ms", Text.millis(p.meanQueued)), ("window_ms", Text.millis(p.window)),
                    ("expected_window_ms", Text.millis(p.expectedWindow)),
                ], evidence: p.evidence)
        }
    }

    static func poolSummary(_ p: PoolStats) -> String {
        var text =
            "Swift's cooperative pool (\(p.threads) \(Text.plural(p.threads, "thread"))) ran \(p.jobs) jobs of "
            + "\(p.tasks) tasks; its jobs spent \(Text.ms(p.blocked)) blocked in the kernel "
            + "(\(Text.pct(p.blockedShare)) of \(Text.ms(p.jobTime)))"
        if p.meanQueued > 0 { text += " while ready jobs waited \(Text.ms(p.meanQueued)) on average for a thread" }
        if p.longJobs > 0 {
            text +=
                "; \(p.longJobs) \(Text.plural(p.longJobs, "job")) computed for long without a suspension point while "
                + "short jobs queued behind them (an `await Task.yield()` in the loop lets them through)"
        }
        if !p.blockers.isEmpty {
            text +=
                "; blocking calls in "
                + Text.list(p.blockers.prefix(3).map { "'\($0.function)' (\(Text.ms($0.blocked)))" })
        }
        return text + "."
    }

    // MARK: - actor-contention

    static func actors(_ r: ActorContention) -> [Finding] {
        // Only programs whose actors were traced have something to say.
        r.actors.prefix(5).map { a in
            var text =
                "Actor \(a.actor) was busy when tasks needed it: its queue ran \(a.runs) \(Text.plural(a.runs, "time")) "
                + "for \(Text.ms(a.busy)), \(Text.ms(a.onCPU)) of it on a CPU (\(Text.pct(a.busyShare)) of the window)"
            if let from = a.awaitedFrom.first { text += "; tasks awaited it from '\(from.function)'" }
            text +=
                a.severity == .warning
                ? ": the program serializes on it — split its state, or compute outside it and keep it for the updates."
                : "."
            return Finding(
                id: ActorContentionAnalyzer.id, severity: a.severity, subject: a.actor, summary: text,
                metrics: [
                    ("runs", Double(a.runs)), ("busy_ms", Text.millis(a.busy)), ("on_cpu_ms", Text.millis(a.onCPU)),
                    ("busy_share", a.busyShare),
                ], evidence: a.evidence)
        }
    }

    // MARK: - cross-host-requests

    static func requests(_ r: RequestPaths) -> [Finding] {
        // Only traces with requests between processes have something to say.
        var out: [Finding] = r.hops.prefix(5).map { h in
            var text =
                "\(h.requests) \(Text.plural(h.requests, "request")) from \(h.client) to \(h.server)"
                + (h.crossesHosts ? " (across hosts)" : "") + ": p50 \(Text.ms(h.p50Total)) waited by the client, "
                + "\(Text.ms(h.p50Server)) in the server span; of their time, the server's own work "
                + "\(Text.pct(h.serverShare))"
            if h.downstreamShare > 0 { text += ", its requests downstream \(Text.pct(h.downstreamShare))" }
            text += ", between the two spans (network, queues) \(Text.pct(h.betweenShare))."
            return Finding(
                id: CrossHostAnalyzer.id, severity: .info, subject: "\(h.client) → \(h.server)", summary: text,
                metrics: [
                    ("requests", Double(h.requests)), ("p50_total_ms", Text.millis(h.p50Total)),
                    ("p50_server_ms", Text.millis(h.p50Server)), ("p50_between_ms", Text.millis(h.p50Between)),
                    ("server_share", h.serverShare), ("downstream_share", h.downstreamShare),
                    ("between_share", h.betweenShare),
                ], evidence: h.evidence)
        }
        if let top = r.dominant.first, r.roots > 0 {
            let text =
                "Of \(r.roots) end-to-end \(Text.plural(r.roots, "request")), the longest part was \(top.part) in "
                + "\(top.requests) (\(Text.pct(Double(top.requests) / Double(r.roots))))"
                + (r.dominant.count > 1
                    ? "; then "
                        + r.dominant.dropFirst().prefix(2).map { "\($0.part) in \($0.requests)" }.joined(
                            separator: ", ")
                    : "")
                + ": the hop to look at first."
            out.insert(
                Finding(
                    id: CrossHostAnalyzer.id, severity: .info, subject: "critical path", summary: text,
                    metrics: [
                        ("requests", Double(r.roots)), ("dominant_share", Double(top.requests) / Double(r.roots)),
                    ]),
                at: 0)
        }
        return out
    }

    // MARK: - ipc-overhead

    static func ipc(_ r: IPCOverhead) -> [Finding] {
        let id = IPCOverheadAnalyzer.id
        var out: [Finding] = r.channels.map { c in
            var sentence =
                "Channel '\(c.name)'" + (c.peers.isEmpty ? "" : " between \(Text.list(c.peers))")
                + " spent \(Text.ms(c.total)) on IPC (serialize \(Text.ms(c.serialize)), "
                + "transfer \(Text.ms(c.transfer)), deserialize \(Text.ms(c.deserialize))) "
                + "against \(Text.ms(c.compute)) of compute in the \(c.processes) \(Text.plural(c.processes, "process", "processes")) "
                + (c.fedOnly ? "reading from it: " : "it connects: ")
                + (c.tax.map { "an IPC tax of \(Text.pct($0))" } ?? "all overhead (no compute measured)")
            if c.messages > 0 {
                sentence += "; \(c.messages) \(Text.plural(c.messages, "message"))"
                if c.bytes > 0 {
                    sentence += ", \(Text.bytes(c.bytes)) (\(Text.bytes(c.bytes / Int64(c.messages))) each)"
                }
            } else if c.bytes > 0 {
                sentence += "; \(Text.bytes(c.bytes)) moved"
            }
            sentence += "."
            return Finding(
                id: id, severity: c.severity, subject: c.name, summary: sentence, inferred: c.inferred,
                metrics: [
                    ("ipc_ms", Text.millis(c.total)), ("serialize_ms", Text.millis(c.serialize)),
                    ("transfer_ms", Text.millis(c.transfer)), ("deserialize_ms", Text.millis(c.deserialize)),
                    ("compute_ms", Text.millis(c.compute)), ("ipc_tax", c.tax), ("messages", Double(c.messages)),
                    ("bytes", Double(c.bytes)),
                ], evidence: c.evidence)
        }
        if let s = r.startup {
            // Start-up stays small when each task is worth 1 ÷ the warning share of it.
            let factor = SummaryRenderer.format3(1 / max(s.warningShare, 1e-9))
            out.append(
                Finding(
                    id: id, severity: s.severity, subject: "process start-up",
                    summary:
                        "\(s.children) child \(Text.plural(s.children, "process", "processes")) took \(Text.ms(s.meanStart)) each to start "
                        + "against \(Text.ms(s.meanWork)) of work each: start-up is \(Text.pct(s.share)) of the work"
                        + (s.severity == .warning ? " (tasks should be at least \(factor)× the start cost)." : "."),
                    metrics: [
                        ("children", Double(s.children)), ("start_mean_ms", Text.millis(s.meanStart)),
                        ("work_mean_ms", Text.millis(s.meanWork)), ("start_share", s.share),
                    ], evidence: s.evidence))
        }
        if out.isEmpty {
            return [
                Finding(id: id, severity: .ok, summary: "No inter-process messages or child processes in the trace.")
            ]
        }
        return out.enumerated().sorted { ($0.element.severity, -$0.offset) > ($1.element.severity, -$1.offset) }
            .map(\.element)
    }

    // MARK: - Evidence

    /// What a piece of evidence shows, one line.
    static func describe(_ e: Evidence) -> String {
        switch e.kind {
        case .longestLockWait(let lock): return "the longest wait for '\(lock)'"
        case .hottestStack(let share, let samples):
            return "the workers' hottest stack (\(Text.pct(share)) of \(samples) CPU samples)"
        case .workerTime(let thread, let running, let lockWait, let runnable):
            return
                "\(thread): on CPU \(Text.ms(running)), lock wait \(Text.ms(lockWait)), runnable \(Text.ms(runnable))"
        case .pythonWork(let thread, let running): return "\(thread): \(Text.ms(running)) in Python work"
        case .waitersStack(let waiting): return "waiters' most common stack (\(Text.ms(waiting)) of waiting)"
        case .waiterSpans: return "the waiter's enclosing spans"
        case .lockWait(let waiter, let waited, let holder, let doing):
            var text = "\(waiter) waited \(Text.ms(waited))"
            if let holder {
                text += " while \(holder) held it"
                if let doing { text += " in '\(doing)'" }
            }
            return text
        case .heldUntilHere(let holder): return "\(holder) held it until here"
        case .waitForChain(let links):
            let steps = links.enumerated().map { i, l in
                (i == 0 ? "\(l.waiter) waits for" : "which waits for") + " '\(lockName(l.lock))' held by \(l.holder)"
            }
            return "wait-for chain: " + steps.joined(separator: ", ")
        case .blockedLoop(let offender, let held, let nature, let task, let count, let functions):
            var text = "\(offender) held the loop \(Text.ms(held)) (\(Self.nature(nature)))"
            if let task { text += " in task \(task)" }
            if count > 0 {
                text += "; sampled there \(count)× in " + functions.map { "'\($0)'" }.joined(separator: " ← ")
            }
            return text
        case .poolBlocked(let function, let blocked, let jobs):
            return
                "'\(function)' blocked a pool thread \(jobs) \(Text.plural(jobs, "time")), \(Text.ms(blocked)) in all"
        case .poolHog(let function, let held):
            return "'\(function)' computed \(Text.ms(held)) without a suspension point while other jobs queued"
        case .actorQueue(let actor, let from):
            return "the longest run of \(actor)'s queue" + (from.map { ", tasks awaiting it from '\($0)'" } ?? "")
        case .longestSend: return "the longest send"
        case .slowestStart: return "the slowest start"
        case .slowestRequest(let parts):
            return "the slowest request" + (parts.isEmpty ? "" : ": " + parts.joined(separator: ", "))
        }
    }

    static func nature(_ n: WorkNature) -> String {
        switch n {
        case .cpu(let share): "CPU work, \(Text.pct(share)) on CPU"
        case .blocking(let share): "blocking wait, \(Text.pct(share)) on CPU"
        case .cpuInferred: "CPU work (inferred)"
        case .blockingInferred: "blocking wait (inferred)"
        }
    }
}
