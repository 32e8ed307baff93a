// ipc-heavy — a process pipeline that ships large payloads (4 MiB of records) to 2 child
// processes for a tiny computation on each (a checksum of the first few records). Copying the
// data through pipes costs far more than the work it feeds. `cctrace report` should find
// `ipc-overhead` and recommend against processes.
// `--model sequential|threads|processes` does the same 2 × 24 checksums on one thread, on 2
// threads reading the records in place (nothing copied), or in the 2 child processes (the
// default), and prints the wall time (`make whatif`).
// Run: CCTRACE_OUTPUT=out/ipc-heavy.trace.json swift run -c release ipc-heavy
import CCTrace
import SampleSupport

let payloadsPerChild = 24
let recordsPerPayload = 1 << 20  // 4 MiB of UInt32

/// Serialization: the records as bytes (a real copy).
func encode(_ records: [UInt32]) -> [UInt8] { records.withUnsafeBytes { Array($0) } }

/// Deserialization: the bytes back into records (another copy).
func decode(_ bytes: [UInt8]) -> [UInt32] {
    [UInt32](unsafeUninitializedCapacity: bytes.count / 4) { buffer, count in
        bytes.withUnsafeBytes { raw in
            UnsafeMutableRawBufferPointer(buffer).copyMemory(from: raw)
        }
        count = bytes.count / 4
    }
}

/// The tiny computation each payload feeds.
func checksum(_ records: [UInt32]) -> UInt64 {
    CCTrace.withSpan("checksum") {
        var sum: UInt64 = 0
        for r in records.prefix(64) { sum = sum &* 31 &+ UInt64(r) }
        return sum
    }
}

func runChild(readFD: Int32, writeFD: Int32) throws {
    CCTrace.setThreadName("child-main")
    let channel = TracedChannel(name: "payloads", readFD: readFD, writeFD: writeFD)
    while let records = try channel.receive(decode: decode) {
        let sum = checksum(records)
        try channel.send(withUnsafeBytes(of: sum) { Array($0) })
    }
}

func runParent() throws {
    CCTrace.setThreadName("main")
    let model = SampleModel.fromArguments(default: .processes, offered: [.sequential, .threads, .processes])
    let start = monotonicNanoseconds()
    let records = (0..<recordsPerPayload).map { UInt32(truncatingIfNeeded: $0 &* 2_654_435_761) }
    if model != .processes {
        // The same checksums on the records where they are: one thread, or a thread per stage.
        let workers = model == .threads ? 2 : 1
        let perWorker = payloadsPerChild * 2 / workers
        let threads = (0..<workers).map { w in
            SampleThread(name: "stage-\(w)") {
                var acc: UInt64 = 0
                for _ in 0..<perWorker { acc ^= checksum(records) }
                if acc == 42 { print("unlikely") }
            }
        }
        for t in threads { t.join() }
        printWallTime(since: start, model: model)
        print("ipc-heavy: \(payloadsPerChild * 2) payloads checked in place")
        return
    }
    let children = try spawnSelfChildren(2, channel: "payloads") { "stage-\($0)" }
    var acc: UInt64 = 0
    for _ in 0..<payloadsPerChild {
        for (_, channel) in children { try channel.send(records, encode: encode) }
        for (_, channel) in children { acc ^= (try channel.receive()?.count).map(UInt64.init) ?? 0 }
    }
    for (child, channel) in children {
        channel.close()
        child.wait()
    }
    printWallTime(since: start, model: model)
    print("ipc-heavy: \(payloadsPerChild * 2) payloads of \((recordsPerPayload * 4) >> 20) MiB shipped (\(acc))")
}

if let fds = childChannelDescriptors() {
    try runChild(readFD: fds.readFD, writeFD: fds.writeFD)
} else {
    try runParent()
}
