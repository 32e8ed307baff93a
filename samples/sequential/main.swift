// sequential — a chain of dependent steps with no parallel slack.
//
// Each stage needs the previous stage's output (a running hash chain), so no concurrency model
// can overlap them: the critical path is the whole run. `cctrace report` should say "stay
// sequential". Run: CCTRACE_OUTPUT=sequential.trace.json swift run -c release sequential
import CCTrace

/// One dependent step: mixes `seed` through `rounds` rounds of a 64-bit hash.
func mix(_ seed: UInt64, rounds: Int) -> UInt64 {
    var x = seed
    for i in 0..<rounds {
        x ^= x >> 33
        x &*= 0xff51_afd7_ed55_8ccd
        x ^= UInt64(truncatingIfNeeded: i)
    }
    return x
}

func parseInput() -> UInt64 {
    CCTrace.withSpan("parseInput") { mix(1, rounds: 60_000_000) }
}

func buildIndex(_ input: UInt64) -> UInt64 {
    CCTrace.withSpan("buildIndex") {
        var state = input
        for _ in 0..<4 {
            state = CCTrace.withSpan("buildIndex.pass") { mix(state, rounds: 40_000_000) }
        }
        return state
    }
}

func checksum(_ index: UInt64) -> UInt64 {
    CCTrace.withSpan("checksum") { mix(index, rounds: 80_000_000) }
}

func runPipeline() -> UInt64 {
    CCTrace.withSpan("pipeline") {
        let input = parseInput()
        let index = buildIndex(input)
        return checksum(index)
    }
}

CCTrace.setThreadName("main")
let result = runPipeline()
print("sequential: result \(String(result, radix: 16))")
