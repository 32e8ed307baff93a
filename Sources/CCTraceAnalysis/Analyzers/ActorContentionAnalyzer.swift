import CCTraceFormat

/// One Swift actor whose queue had to be run as a job of its own: tasks found it busy.
public struct ActorStats: Sendable {
    /// `Type@0x…`.
    public var actor: String
    public var pid: Int64
    /// Runs of its queue: each one a time tasks queued because the actor was busy.
    public var runs: Int
    /// Time in those runs, and the part of it on a CPU.
    public var busy: Int64
    public var onCPU: Int64
    /// ``onCPU`` over the program's window.
    public var busyShare: Double
    /// Where tasks awaited it from (best effort), most frequent first.
    public var awaitedFrom: [(function: String, count: Int)]
    public var severity: Severity
    public var evidence: [Evidence]
}

/// `actor-contention`: what the analyzer found.
public struct ActorContention: Sendable {
    public var actors: [ActorStats]
}

/// `actor-contention`: a Swift actor runs one task at a time. A task that finds it free runs
/// on it at once, inside its own job; one that finds it busy is queued, and the actor's queue is
/// then run as a job of its own (`actor <Type>` slices from the runtime hooks). So those runs
/// are contention by construction, and their time on a CPU is time every task that needs the
/// actor had to wait for: when it reaches ``Heuristics/actorBusyShare`` of the window, the
/// actor is where the program serializes, whatever the cores.
public enum ActorContentionAnalyzer {
    public static let id = "actor-contention"

    public static func analyze(_ model: TraceModel, profile: WorkProfile, options: AnalysisOptions) -> ActorContention {
        let h = options.heuristics
        let actorKey = TraceVocabulary.Arg.actor.string
        let fromKey = TraceVocabulary.Arg.awaitedFrom.string
        let category = TraceCategory.task.rawValue
        let prefix = TraceVocabulary.Event.actorPrefix.string
        struct Acc {
            var pid: Int64
            var runs = 0
            var busy: Int64 = 0
            var onCPU: Int64 = 0
            var from: [String: Int] = [:]
            var longest = -1
        }
        var byActor: [String: Acc] = [:]
        for i in profile.classification.names.slices(where: { $1 == category && $0.hasPrefix(prefix) }) {
            let s = model.slices[i]
            guard let args = s.args.flatMap({ model.arguments.value($0) }), let actor = args[actorKey]?.stringValue
            else { continue }
            let t = model.threads[s.thread]
            var acc = byActor[actor] ?? Acc(pid: t.pid)
            acc.runs += 1
            let wall = s.duration.nanoseconds
            acc.busy += wall
            acc.onCPU += min(wall, t.cpu?.usage(in: s.start...s.end).running.nanoseconds ?? wall)
            if let from = args[fromKey]?.stringValue { acc.from[from, default: 0] += 1 }
            if acc.longest < 0 || wall > model.slices[acc.longest].duration.nanoseconds { acc.longest = i }
            byActor[actor] = acc
        }
        let window = Double(max(profile.window, 1))
        let actors = byActor.map { actor, acc -> ActorStats in
            let share = Double(acc.onCPU) / window
            let severity: Severity =
                share >= h.actorBusyShare && acc.runs >= 2 ? .warning : share >= h.actorBusyShare / 2.5 ? .info : .ok
            let from = acc.from.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map {
                (function: $0.key, count: $0.value)
            }
            var evidence: [Evidence] = []
            if acc.longest >= 0 {
                evidence.append(
                    .slice(acc.longest, in: model, .actorQueue(actor: actor, awaitedFrom: from.first?.function)))
            }
            return ActorStats(
                actor: actor, pid: acc.pid, runs: acc.runs, busy: acc.busy, onCPU: acc.onCPU, busyShare: share,
                awaitedFrom: from, severity: severity, evidence: evidence)
        }
        return ActorContention(
            actors: actors.sorted { ($0.severity, $0.onCPU, $1.actor) > ($1.severity, $1.onCPU, $0.actor) })
    }
}
