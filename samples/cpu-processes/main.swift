// cpu-processes — the CPU work of cpu-threads split over 4 child processes (copies of this
// program) that each get small job messages over a pipe and send back small results. Every
// process runs on its own core; the messages cost next to nothing. `cctrace report` should say:
// keep the process pool, with no `ipc-overhead` warning.
// Run: CCTRACE_OUTPUT=out/cpu-processes.trace.json swift run -c release cpu-processes
import CCTrace
import SampleSupport

let jobsPerChild = 20

/// A job: which item to compute (8 bytes each way).
func encode(_ value: UInt64) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }
func decode(_ bytes: [UInt8]) -> UInt64 {
    bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
}

/// In a child: compute each job (20 ms of CPU) and send the result back.
func runChild(readFD: Int32, writeFD: Int32) throws {
    CCTrace.setThreadName("child-main")
    let channel = TracedChannel(name: "jobs", readFD: readFD, writeFD: writeFD)
    while let item = try channel.receive(decode: decode) {
        let result = CCTrace.withSpan("compute") { burnCPU(milliseconds: 20, seed: item) }
        try channel.send(result, encode: encode)
    }
}

/// In the parent: start the children, hand out the jobs, collect the results.
func runParent() throws {
    CCTrace.setThreadName("main")
    let children = try spawnSelfChildren(4, channel: "jobs") { "worker-\($0)" }
    for (i, (_, channel)) in children.enumerated() {
        for job in 0..<jobsPerChild { try channel.send(UInt64(i * 1000 + job), encode: encode) }
    }
    var acc: UInt64 = 0
    for (_, channel) in children {
        for _ in 0..<jobsPerChild { acc ^= try channel.receive(decode: decode) ?? 0 }
        channel.close()
    }
    for (child, _) in children { child.wait() }
    print("cpu-processes: 4 children × \(jobsPerChild) jobs done (\(acc % 10))")
}

if let fds = childChannelDescriptors() {
    try runChild(readFD: fds.readFD, writeFD: fds.writeFD)
} else {
    try runParent()
}
