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
            // Runs: at least two per task (before and after its sleep), on pool threads.
            let runsOfAll = model.slices.filter { $0.name == "fetch-all" && $0.category == TraceCategory.task.rawValue }
            #expect(runsOfAll.count >= 2)
            #expect(runsOfAll.allSatisfy { model.arguments.value($0.args!)?["task_id"]?.stringValue == all.id })
            #expect(runsOfAll.allSatisfy { model.threads[$0.thread].name?.hasPrefix("cctrace-pool") == true })
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
            #expect(children.count >= 190, "\(children.count) of 200 child tasks traced")
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

        /// When every pool thread is hogged, the pool's heartbeat lag shows it.
        @Test func hoggedPoolShowsLag() async throws {
            let path = makeTemporaryDirectory().appendingPathComponent("pool-lag.json").path
            try CCTrace.start(TraceConfiguration(outputPath: path))
            try await Task.sleep(for: .milliseconds(5))
            let hogs = (0..<TracedTaskExecutor.shared.threadCount).map { _ in
                CCTrace.task("hog-all") { _ = usleep(150_000) }
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
