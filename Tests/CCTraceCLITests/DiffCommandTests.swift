import Foundation
import Testing

/// `cctrace diff` on two runs of one program: two threads doing 20 items of 10 ms each,
/// serialized by one lock (before) or not (after).
@Suite struct DiffCommandTests {
    /// The items of two threads; with `locked`, each item waits for the other thread's item
    /// to finish (a lock held for the whole item), so the run takes twice as long.
    static func trace(locked: Bool, itemMicros: Int = 10_000, jitter: [Int] = []) -> String {
        var events = [
            #"{"ph":"M","name":"process_name","pid":1,"args":{"name":"app"}}"#,
            #"{"ph":"M","name":"thread_name","pid":1,"tid":2,"args":{"name":"w1"}}"#,
            #"{"ph":"M","name":"thread_name","pid":1,"tid":3,"args":{"name":"w2"}}"#,
        ]
        var clock = [2: 0, 3: locked ? 0 : 0]
        for i in 0..<20 {
            for t in 2...3 {
                let work = itemMicros + (jitter.isEmpty ? 0 : jitter[(i * 2 + t) % jitter.count])
                var ts = clock[t]!
                var wait = 0
                if locked {
                    // The lock is free when the other thread's last item ended.
                    let other = clock[t == 2 ? 3 : 2]!
                    wait = max(0, other - ts)
                }
                events.append(#"{"ph":"X","name":"item","ts":\#(ts),"dur":\#(wait + work),"pid":1,"tid":\#(t)}"#)
                if wait > 0 {
                    events.append(
                        #"{"ph":"X","name":"lock wait","cat":"cctrace.lock","ts":\#(ts),"dur":\#(wait),"pid":1,"tid":\#(t),"args":{"lock":"db","lock_id":7}}"#
                    )
                }
                ts += wait + work
                clock[t] = ts + 10
            }
        }
        return "[" + events.joined(separator: ",\n") + "]"
    }

    @Test func removingALockIsFasterAndItsFindingIsGone() throws {
        let before = try writeTemporary(Self.trace(locked: true))
        let after = try writeTemporary(Self.trace(locked: false))
        let result = try cctrace(["diff", "--format", "json", "--cores", "2", before, after])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["schema_version"] as? Int == 1)
        let speedup = try #require(object["speedup"] as? Double)
        #expect(speedup > 1.7 && speedup < 2.3, "speedup \(speedup)")
        #expect(object["speedup_beyond_noise"] as? Bool == true)
        let findings = try #require(object["findings"] as? [[String: Any]])
        let lock = try #require(findings.first { $0["id"] as? String == "lock-contention" })
        #expect(lock["status"] as? String == "gone")
        #expect(lock["before_severity"] as? String == "warning")
        #expect((object["regressions"] as? [Any])?.isEmpty == true)
        let figures = try #require(object["figures"] as? [[String: Any]])
        let wait = try #require(figures.first { $0["key"] as? String == "lock_wait_share" })
        #expect(wait["change"] as? String == "better")
        #expect((wait["after"] as? Double) == 0)

        let text = try cctrace(["diff", "--cores", "2", "--fail-on-regression", before, after])
        #expect(text.status == 0)
        #expect(text.stdout.contains("faster"))
        #expect(text.stdout.contains("gone — lock-contention"))
    }

    @Test func swappedIsARegressionWithExitThree() throws {
        let before = try writeTemporary(Self.trace(locked: false))
        let after = try writeTemporary(Self.trace(locked: true))
        let plain = try cctrace(["diff", "--cores", "2", before, after])
        #expect(plain.status == 0)
        #expect(plain.stdout.contains("slower"))
        let gated = try cctrace(["diff", "--cores", "2", "--fail-on-regression", before, after])
        #expect(gated.status == 3)
        #expect(gated.stderr.contains("wall time"))
        #expect(gated.stderr.contains("lock-contention"))
        let markdown = try cctrace(["diff", "--cores", "2", "--format", "markdown", before, after])
        #expect(markdown.stdout.contains("| wall time (work window) |"))
        #expect(markdown.stdout.contains("### Regressions"))
    }

    /// Two runs a few per cent apart are the same speed: within the noise floor.
    @Test func smallDifferenceIsWithinNoise() throws {
        let before = try writeTemporary(Self.trace(locked: false, itemMicros: 10_000))
        let after = try writeTemporary(Self.trace(locked: false, itemMicros: 10_300))
        let result = try cctrace(["diff", "--format", "json", "--cores", "2", "--fail-on-regression", before, after])
        #expect(result.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["speedup_beyond_noise"] as? Bool == false)
        // Beyond the floor it is a change: `--set diff-noise=0.01` makes 3 % real.
        let strict = try cctrace([
            "diff", "--cores", "2", "--set", "diff-noise=0.01", "--fail-on-regression", before, after,
        ])
        #expect(strict.status == 3)
    }

    /// Items whose durations vary widely make the run's own noise wider than the floor, and
    /// the same 3 % slowdown stays within it even with a 1 % floor.
    @Test func repeatedItemsWidenTheNoise() throws {
        let jitter = [-8_000, 9_000, -6_000, 7_000, 0, 5_000, -9_000, 2_000]
        let before = try writeTemporary(Self.trace(locked: false, itemMicros: 10_000, jitter: jitter))
        let after = try writeTemporary(Self.trace(locked: false, itemMicros: 10_300, jitter: jitter))
        let result = try cctrace([
            "diff", "--format", "json", "--cores", "2", "--set", "diff-noise=0.01", before, after,
        ])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let side = try #require(object["before"] as? [String: Any])
        #expect((side["noise"] as? Double ?? 0) > 0.05)
        #expect(side["noise_items"] as? Int == 40)
        #expect(object["speedup_beyond_noise"] as? Bool == false)
    }

    @Test func unreadableInputIsExitTwo() throws {
        let good = try writeTemporary(Self.trace(locked: false))
        let bad = try writeTemporary("not json")
        let result = try cctrace(["diff", good, bad])
        #expect(result.status == 2)
        #expect(result.stderr.contains(bad))
        #expect(result.stderr.split(separator: "\n").count == 1)
    }
}
