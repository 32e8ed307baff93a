import CCTrace
import CCTraceAnalysis
import CCTraceFormat
import Foundation
import Testing

extension RecorderTests {
    @Suite struct Tasks {
        /// A task's life is one async slice keyed by its id, with its parent; each stretch
        /// between suspension points is a slice named after the task on a pool thread.
        @Test func taskLifeRunsAndParent() async throws {
            let path = makeTemporaryDirectory().appendingPathComponent("tasks.json").path
            try CCTrace.start(TraceConfiguration(outputPath: path))
            let outer = CCTrace.task("fetch-all") {
                let child = CCTrace.task("fetch-one") {
                    try await Task.sleep(for: .milliseconds(20))
                    return 1
                }
                try await Task.sleep(for: .milliseconds(10))
                return try await CCTrace.withSpan(named: "combine") { try await child.value + 1 }
            }
            let value = try await outer.value
            CCTrace.stop()
            #expect(value == 2)
            let model = try TraceImporter.importTrace(path: path)
            let lives = model.asyncSlices.filter { $0.category == TraceCategory.task.rawValue && $0.depth == 0 }
            let all = try #require(lives.first { $0.name == "fetch-all" })
            let one = try #require(lives.first { $0.name == "fetch-one" })
            #expect(all.id != one.id)
            let parent = one.args.flatMap { model.arguments.value($0) }?["parent_task_id"]?.stringValue
            #expect(parent == all.id)
            #expect(one.duration.nanoseconds >= 20_000_000)
            // Runs: at least two per task (before and after its sleep), on Swift's own pool (the
            // runtime hooks see them; tracing does not move the task to another executor).
            let runsOfAll = model.slices.filter { $0.name == "fetch-all" && $0.category == TraceCategory.task.rawValue }
            #expect(runsOfAll.count >= 2)
            #expect(runsOfAll.allSatisfy { model.arguments.value($0.args!)?["task_id"]?.stringValue == all.id })
            #expect(runsOfAll.allSatisfy { model.threads[$0.thread].name?.hasPrefix("swift-pool") == true })
            // The async span is nested in the task's track.
            #expect(model.asyncSlices.contains { $0.name == "combine" && $0.id == all.id && $0.depth == 1 })
        }

        /// Plain Swift Concurrency, no tracing calls: every job of Swift's global executor is
        /// recorded through the runtime's hooks — each child task by its id, on a thread named
        /// as the pool; a contended actor's runs labelled with the actor and the time they queued.
        @Test func plainSwiftConcurrencyIsTracedWithoutCode() async throws {
            let path = makeTemporaryDirectory().appendingPathComponent("plain.json").path
            try CCTrace.start(TraceConfiguration(outputPath: path))
            let counter = HashCounter()
            await withTaskGroup(of: Void.self) { group in
                for i in 0..<200 {
                    group.addTask {
                        try? await Task.sleep(for: .milliseconds(1 + i % 3))
                        await counter.bump(i)
                    }
                }
            }
            CCTrace.stop()
            #expect(await counter.total > 0)
            let model = try TraceImporter.importTrace(path: path)
            let jobs = model.slices.filter {
                $0.category == TraceCategory.task.rawValue
                    && model.threads[$0.thread].name?.hasPrefix("swift-pool") == true
            }
            let children = Set(
                jobs.filter { $0.name.contains("plainSwiftConcurrencyIsTracedWithoutCode") }.compactMap {
                    $0.args.flatMap { model.arguments.value($0) }?["task_id"]?.intValue
                })
            #expect(
                children.count >= 190,
                "\(children.count) of 200 child tasks traced \(Dictionary(grouping: jobs, by: \.name).mapValues(\.count))"
            )
            // Each child ran before and after its sleep, and said so.
            let afterSleep = jobs.filter {
                $0.args.flatMap { model.arguments.value($0) }?["after"]?.stringValue == "sleep"
            }
            #expect(afterSleep.count >= 190, "\(afterSleep.count) jobs resumed after a sleep")
            let actorRuns = jobs.filter { $0.name == "actor HashCounter" }
            #expect(!actorRuns.isEmpty, "\(Set(jobs.map(\.name)))")
            #expect(
                actorRuns.allSatisfy {
                    model.arguments.value($0.args!)?["actor"]?.stringValue?.hasPrefix("HashCounter@0x") == true
                })
        }

        /// A traced child of a task group is a real child: the group's cancellation reaches it,
        /// the group awaits it, and the trace shows its life under its parent with its runs.
        @Test func tracedGroupChildKeepsStructureAndCancellation() async throws {
            let path = makeTemporaryDirectory().appendingPathComponent("group-child.json").path
            try CCTrace.start(TraceConfiguration(outputPath: path))
            let outcome = try await CCTrace.task("parent") {
                await withTaskGroup(of: String.self) { group in
                    group.addTracedTask("sleeper") {
                        do {
                            try await Task.sleep(for: .seconds(10))
                            return "slept"
                        } catch {
                            return "cancelled"
                        }
                    }
                    group.addTracedTask("quick") { "quick" }
                    var results: [String] = []
                    if let first = await group.next() { results.append(first) }
                    group.cancelAll()
                    while let next = await group.next() { results.append(next) }
                    return results.sorted()
                }
            }.value
            CCTrace.stop()
            #expect(outcome == ["cancelled", "quick"])
            let model = try TraceImporter.importTrace(path: path)
            let lives = model.asyncSlices.filter { $0.category == TraceCategory.task.rawValue && $0.depth == 0 }
            let parent = try #require(lives.first { $0.name == "parent" })
            let sleeper = try #require(lives.first { $0.name == "sleeper" })
            #expect(sleeper.args.flatMap { model.arguments.value($0) }?["parent_task_id"]?.stringValue == parent.id)
            #expect(sleeper.duration.nanoseconds < 5_000_000_000)
            let runs = model.slices.filter { $0.name == "sleeper" && $0.category == TraceCategory.task.rawValue }
            #expect(!runs.isEmpty)
            #expect(runs.allSatisfy { model.arguments.value($0.args!)?["task_id"]?.stringValue == sleeper.id })
        }

        /// The main actor's jobs, which Swift 6.3 sends to Dispatch's main queue without a hook,
        /// are recorded too: each hop onto the main actor is a job slice with its task.
        @Test func mainActorJobsAreTraced() async throws {
            let path = makeTemporaryDirectory().appendingPathComponent("main-actor.json").path
            try CCTrace.start(TraceConfiguration(outputPath: path))
            await withTaskGroup(of: Int.self) { group in
                for i in 0..<20 {
                    group.addTask {
                        try? await Task.sleep(for: .milliseconds(1))
                        return await MainActor.run { i * 2 }
                    }
                }
                for await _ in group {}
            }
            CCTrace.stop()
            let model = try TraceImporter.importTrace(path: path)
            let offPool = model.slices.filter {
                $0.category == TraceCategory.task.rawValue
                    && !(model.threads[$0.thread].name?.hasPrefix("swift-pool") ?? false)
                    && model.arguments.value($0.args!)?["task_id"] != nil
            }
            #expect(offPool.count >= 20, "\(offPool.count) main-actor jobs")
        }

        /// Child tasks inherit their parent's task-local context: spans in 40 concurrent
        /// children of one traced task still get 40 ids, and a span nested in a child's span
        /// shares the child's track.
        @Test func concurrentSpansNeverShareAnID() async throws {
            let path = makeTemporaryDirectory().appendingPathComponent("fan-out.json").path
            try CCTrace.start(TraceConfiguration(outputPath: path))
            let task = CCTrace.task("fan-out") {
                await withTaskGroup(of: Void.self) { group in
                    for i in 0..<40 {
                        group.addTask {
                            await CCTrace.withSpan(named: "child \(i)") {
                                try? await Task.sleep(for: .milliseconds(5))
                                await CCTrace.withSpan(named: "inner") { await Task.yield() }
                            }
                        }
                    }
                }
                return 0
            }
            _ = try await task.value
            CCTrace.stop()
            let model = try TraceImporter.importTrace(path: path)
            let children = model.asyncSlices.filter { $0.name.hasPrefix("child ") }
            #expect(children.count == 40)
            #expect(Set(children.map(\.id)).count == 40)
            let inner = model.asyncSlices.filter { $0.name == "inner" }
            #expect(inner.count == 40)
            #expect(inner.allSatisfy { $0.depth == 1 && Set(children.map(\.id)).contains($0.id) })
        }

        /// When every thread of cctrace's own pool (asked for) is hogged, its heartbeat lag shows it.
        @Test func hoggedPoolShowsLag() async throws {
            let path = makeTemporaryDirectory().appendingPathComponent("pool-lag.json").path
            try CCTrace.start(TraceConfiguration(outputPath: path))
            try await Task.sleep(for: .milliseconds(5))
            let hogs = (0..<TracedTaskExecutor.shared.threadCount).map { _ in
                CCTrace.task("hog-all", executor: TracedTaskExecutor.shared) { _ = usleep(150_000) }
            }
            for hog in hogs { try await hog.value }
            try await Task.sleep(for: .milliseconds(60))
            CCTrace.stop()
            let model = try TraceImporter.importTrace(path: path)
            let lag = try #require(model.counters.first { $0.name == "loop lag cctrace-pool" })
            #expect((lag.points.map(\.1).max() ?? 0) >= 80)
            #expect(lag.points.map(\.1).min() ?? 1000 < 20)
        }

        /// A job that hogs a pool thread shows as one long run slice.
        @Test func blockingJobIsOneLongRun() async throws {
            let path = makeTemporaryDirectory().appendingPathComponent("hog.json").path
            try CCTrace.start(TraceConfiguration(outputPath: path))
            try await CCTrace.task("hog") { _ = usleep(120_000) }.value
            CCTrace.stop()
            let model = try TraceImporter.importTrace(path: path)
            let runs = model.slices.filter { $0.name == "hog" }
            #expect(runs.contains { $0.duration.nanoseconds >= 120_000_000 })
        }
    }
}

/// An actor every child task awaits, computing ~0.3 ms per call so that calls queue.
actor HashCounter {
    private(set) var total: UInt64 = 0
    func bump(_ i: Int) {
        var h = UInt64(i) &+ 0x9E37_79B9_7F4A_7C15
        for _ in 0..<100_000 {
            h ^= h >> 31
            h = h &* 0xFF51_AFD7_ED55_8CCD
        }
        total &+= h | 1
    }
}
