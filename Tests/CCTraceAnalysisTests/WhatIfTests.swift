import CCTraceAnalysis
import CCTraceFormat
import Foundation
import Testing

/// The what-if replay on traces whose answer is known by construction.
@Suite struct WhatIfTests {
    /// Four threads whose 10 ms items all run under one lock (a GIL in miniature), recorded as
    /// they ran: one at a time, 400 ms. In processes each has its own lock: 4 × 100 ms of CPU on
    /// 2 cores, ~200 ms plus a start-up; one thread, 400 ms.
    func globalLockTrace() -> TraceBuilder {
        var b = TraceBuilder()
        b.session(cores: 2)
        for t in 0..<4 {
            b.threadName("worker-\(t)", tid: 10 + t)
            for j in 0..<10 {
                let run = Double((4 * j + t) * 10_000)
                let request = j == 0 ? 0 : Double((4 * (j - 1) + t + 1) * 10_000)
                b.slice("interpret", tid: 10 + t, ts: request, dur: run + 10_000 - request)
                if run > request {
                    b.slice(
                        "lock wait", tid: 10 + t, ts: request, dur: run - request, cat: "cctrace.lock",
                        args: #"{"lock":"interpreter","lock_id":1}"#)
                }
            }
        }
        return b
    }

    @Test func processesUnserializeAGlobalLock() throws {
        let r = try globalLockTrace().report()
        let w = r.analysis.whatIf
        let ms = { (m: ConcurrencyModel) in Double(w.row(m)?.predicted ?? 0) / 1e6 }
        #expect(w.row(.threads)?.isCurrent == true)
        #expect(abs(Double(w.replayed ?? 0) / 1e6 - 400) < 8, "the replay of now reproduces the window")
        #expect((195...230).contains(ms(.processes)), "\(ms(.processes)) ms")
        #expect((380...420).contains(ms(.sequential)), "\(ms(.sequential)) ms")
        #expect(w.row(.processes).map { $0.low < $0.predicted && $0.predicted < $0.high } == true)
    }

    @Test func theTableIsInTheTextAndTheJSON() throws {
        let r = try globalLockTrace().report()
        let text = ReportRenderer.render(r, path: "t", format: .text)
        #expect(text.contains("What if"))
        #expect(text.contains("processes"))
        let json = ReportRenderer.render(r, path: "t", format: .json)
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        let rec = object?["recommendation"] as? [String: Any]
        let rows = rec?["what_if"] as? [[String: Any]] ?? []
        let models = rows.compactMap { $0["model"] as? String }
        #expect(models.contains("processes") && models.contains("sequential") && models.contains("threads"))
        for row in rows {
            let p = row["predicted_ms"] as? Double ?? -1
            #expect((row["low_ms"] as? Double ?? .infinity) <= p && p <= (row["high_ms"] as? Double ?? -1))
        }
    }

    /// One thread making 20 independent requests one after another (1 ms of CPU, 20 ms waiting
    /// for the reply): on a loop all overlap (~20 ms of CPU on the loop plus one wait); two
    /// threads halve the sequence.
    @Test func independentWaitsOverlapOnALoop() throws {
        var b = TraceBuilder()
        b.session(cores: 2)
        b.threadName("main", tid: 1)
        for i in 0..<20 {
            let t = Double(i * 21_000)
            b.slice("fetch", tid: 1, ts: t, dur: 21_000)
            b.slice("recv", tid: 1, ts: t + 1_000, dur: 20_000)
        }
        let r = try b.report()
        let w = r.analysis.whatIf
        let ms = { (m: ConcurrencyModel) in Double(w.row(m)?.predicted ?? 0) / 1e6 }
        #expect(w.row(.sequential)?.isCurrent == true)
        // The recommendation's speedup is the what-if's for the model it recommends.
        let target = try #require(r.recommendation.speedupFrom)
        #expect(target == r.recommendation.model)
        #expect(abs(r.recommendation.expectedSpeedup - Double(w.measured) / Double(w.row(target)!.predicted)) < 1e-6)
        #expect((38...50).contains(ms(.async)), "\(ms(.async)) ms")
        #expect((200...225).contains(ms(.threads)), "\(ms(.threads)) ms")
    }

    /// Work that arrives every 50 ms (its thread idle in between) finishes no sooner in any
    /// model: the last item arrives at 950 ms.
    @Test func arrivalsBoundEveryModel() throws {
        var b = TraceBuilder()
        b.session(cores: 2)
        b.threadName("main", tid: 1)
        for i in 0..<20 { b.slice("handle", tid: 1, ts: Double(i * 50_000), dur: 5_000) }
        let w = try b.report().analysis.whatIf
        #expect(!w.rows.isEmpty)
        for row in w.rows {
            #expect(Double(row.predicted) >= 0.95 * Double(w.measured), "\(row.model): \(row.predicted)")
        }
    }

    /// Threads that hold a lock across a wait stay serialized by it on a loop too (an async
    /// lock), but not as processes (each its own copy).
    @Test func aLockHeldAcrossAWaitSerializesLoopsNotProcesses() throws {
        var b = TraceBuilder()
        b.session(cores: 2)
        for t in 0..<2 {
            b.threadName("worker-\(t)", tid: 10 + t)
            for j in 0..<10 {
                let run = Double((2 * j + t) * 4_000)
                let request = j == 0 ? 0 : Double((2 * (j - 1) + t + 1) * 4_000)
                b.slice("refresh", tid: 10 + t, ts: request, dur: run + 4_000 - request)
                if run > request {
                    b.slice(
                        "lock wait", tid: 10 + t, ts: request, dur: run - request, cat: "cctrace.lock",
                        args: #"{"lock":"cache","lock_id":2}"#)
                }
                b.slice("read", tid: 10 + t, ts: run, dur: 4_000)
            }
        }
        let w = try b.report().analysis.whatIf
        let ms = { (m: ConcurrencyModel) in Double(w.row(m)?.predicted ?? 0) / 1e6 }
        #expect((76...84).contains(ms(.async)), "\(ms(.async)) ms")
        #expect((40...52).contains(ms(.processes)), "\(ms(.processes)) ms")
    }

    /// A trace whose only work is one message received (found by the fuzzer): models without the
    /// IPC have nothing left to replay — no row, never a zero prediction.
    @Test func nothingLeftToReplayIsNoRow() throws {
        var b = TraceBuilder()
        b.session(cores: 2)
        b.slice(
            "receive payloads", tid: 1, ts: 0, dur: 2_770, cat: "cctrace.ipc",
            args: #"{"bytes":4194304,"channel":"payloads"}"#)
        let r = try b.report()
        for row in r.analysis.whatIf.rows {
            #expect(row.predicted > 0 && row.low <= row.predicted && row.predicted <= row.high, "\(row)")
        }
    }
}
