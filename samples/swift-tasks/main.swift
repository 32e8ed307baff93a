// swift-tasks: a request handler written in plain Swift Concurrency, with no tracing code in it.
//
// 240 requests run in a task group, at most 24 at a time. Each one parses its payload in an
// `async let` child (CPU), waits on a simulated backend (`Task.sleep`, like a network call),
// looks its key up in an actor cache every request awaits — each lookup hashes ~0.5 ms under
// the actor, a hot spot every request queues for — and then calls a synchronous "SDK" function that sleeps 15 ms and reads a file:
// a blocking call on Swift's cooperative pool, which has one thread per core, so while it
// blocks no other task can run there.
//
// `--fixed` moves that SDK call off the pool (onto a thread of its own, awaited through a
// continuation) and nothing else: the expected speedup of removing the blocking call is
// measured by running both. `--model async|hybrid` says the same (`hybrid`: the pool for the
// tasks, a thread for the blocking call; `async`, the default: everything on the pool) and
// the wall time is printed for `make whatif`.
//
// Linked with CCTrace but never calling it: `CCTRACE_OUTPUT=trace.json swift-tasks` traces it.

import CCTrace  // linked for zero-code tracing; no API is called
import Foundation

actor Cache {
    private var entries: [Int: UInt64] = [:]
    private var generation: UInt64 = 0

    /// Looks `key` up, refreshing its entry's digest under the actor (~0.5 ms of CPU).
    func lookup(_ key: Int) -> UInt64 {
        generation &+= 1
        let value = digest((entries[key % 64] ?? UInt64(key)) ^ generation, rounds: 200_000)
        entries[key % 64] = value
        return value
    }
}

/// CPU work: a hash chain of `rounds` steps (~2.6 ns each here).
func digest(_ seed: UInt64, rounds: Int) -> UInt64 {
    var h = seed &+ 0x9E37_79B9_7F4A_7C15
    for _ in 0..<rounds {
        h ^= h >> 33
        h = h &* 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 29
        h = h &* 0xC4CE_B9FE_1A85_EC53
    }
    return h
}

/// Parses a request payload: pure CPU (~1 ms).
func parsePayload(_ id: Int) async -> UInt64 {
    digest(UInt64(id), rounds: 400_000)
}

/// A vendor SDK's synchronous call: sleeps 15 ms (a blocking network round trip) and reads a
/// file. Called from async code it holds a pool thread the whole time.
func legacySDKFetch(_ id: Int, path: String) -> Int {
    usleep(15_000)
    return (FileManager.default.contents(atPath: path)?.count ?? 0) + id % 7
}

/// The same call on a thread of its own, awaited: the pool thread is free meanwhile.
func legacySDKFetchOffPool(_ id: Int, path: String) async -> Int {
    await withCheckedContinuation { continuation in
        Thread.detachNewThread { continuation.resume(returning: legacySDKFetch(id, path: path)) }
    }
}

func handle(_ id: Int, cache: Cache, path: String, fixed: Bool) async throws -> UInt64 {
    async let parsed = parsePayload(id)
    try await Task.sleep(for: .milliseconds(8))  // the backend
    let cached = await cache.lookup(id)
    let sdk = fixed ? await legacySDKFetchOffPool(id, path: path) : legacySDKFetch(id, path: path)
    return await parsed ^ cached ^ UInt64(sdk)
}

func runAll(fixed: Bool) async throws -> UInt64 {
    let path = CommandLine.arguments[0]
    let cache = Cache()
    let requests = 240
    let concurrency = 24
    return try await withThrowingTaskGroup(of: UInt64.self) { group in
        var next = 0
        var result: UInt64 = 0
        while next < min(concurrency, requests) {
            let id = next
            group.addTask { try await handle(id, cache: cache, path: path, fixed: fixed) }
            next += 1
        }
        while let value = try await group.next() {
            result ^= value
            if next < requests {
                let id = next
                group.addTask { try await handle(id, cache: cache, path: path, fixed: fixed) }
                next += 1
            }
        }
        return result
    }
}

let arguments = CommandLine.arguments
let modelName = arguments.firstIndex(of: "--model").map { $0 + 1 < arguments.count ? arguments[$0 + 1] : "" }
if let modelName, modelName != "async" && modelName != "hybrid" {
    print("\(arguments[0]): --model takes async|hybrid (got '\(modelName)')")
    exit(2)
}
let fixed = arguments.contains("--fixed") || modelName == "hybrid"
let start = ContinuousClock.now
let result = try await runAll(fixed: fixed)
let elapsed = ContinuousClock.now - start
let wallMs = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
print("wall_ms=\(Int(wallMs.rounded())) model=\(fixed ? "hybrid" : "async")")
print("swift-tasks\(fixed ? " --fixed" : ""): 240 requests in \(elapsed) (checksum \(result % 1000))")
