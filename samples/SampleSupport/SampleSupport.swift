// Helpers the samples share: real CPU work sized in CPU time (so a sample does the same work
// in debug and release builds and on a busy machine), joinable named threads, and blocking
// loopback TCP.
import CCTrace

#if canImport(Glibc)
    import Glibc
#endif

/// One round of a 64-bit mixing function: the samples' unit of CPU work.
@inline(never)
public func mix(_ seed: UInt64, rounds: Int) -> UInt64 {
    var x = seed
    for i in 0..<rounds {
        x ^= x >> 33
        x &*= 0xff51_afd7_ed55_8ccd
        x ^= UInt64(truncatingIfNeeded: i)
    }
    return x
}

/// This thread's CPU time in nanoseconds.
public func threadCPUTime() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

/// Hashes until this thread has spent `milliseconds` of CPU time; returns the hash.
public func burnCPU(milliseconds: Double, seed: UInt64 = 1) -> UInt64 {
    let deadline = threadCPUTime() + Int64(milliseconds * 1_000_000)
    var x = seed
    repeat { x = mix(x, rounds: 20_000) } while threadCPUTime() < deadline
    return x
}

/// A named thread that can be joined.
public final class SampleThread: @unchecked Sendable {
    private var handle: pthread_t
    private final class Box {
        let name: String
        let body: () -> Void
        init(_ name: String, _ body: @escaping () -> Void) {
            self.name = name
            self.body = body
        }
    }

    /// Starts `body` on a new thread named `name` (in the trace and in `/proc`).
    public init(name: String, _ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(Box(name, body)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(
            &thread, nil,
            { raw in
                let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
                CCTrace.setThreadName(box.name)
                box.body()
                return nil
            }, box)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        handle = thread
    }

    /// Waits for the thread to finish.
    public func join() { pthread_join(handle, nil) }
}

/// Raises the open-file limit to its hard maximum; returns the new soft limit.
@discardableResult
public func raiseOpenFileLimit() -> Int {
    var limit = rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    limit.rlim_cur = limit.rlim_max
    setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    return Int(limit.rlim_cur)
}

/// Blocking TCP on 127.0.0.1.
public enum Loopback {
    /// A listening socket on an ephemeral port: (descriptor, port).
    public static func listen(backlog: Int32 = 128) -> (fd: Int32, port: UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        precondition(fd >= 0, "socket failed")
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                precondition(bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0, "bind failed")
            }
        }
        precondition(Glibc.listen(fd, backlog) == 0, "listen failed")
        var bound = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &len) }
        }
        return (fd, UInt16(bigEndian: bound.sin_port))
    }

    /// A connected socket to 127.0.0.1:`port`, with Nagle off (request/response traffic).
    public static func connect(port: UInt16) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        precondition(fd >= 0, "socket failed")
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = port.bigEndian
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        precondition(rc == 0, "connect failed: \(errno)")
        noDelay(fd)
        return fd
    }

    /// Turns Nagle's algorithm off.
    public static func noDelay(_ fd: Int32) {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Reads exactly `count` bytes; false at end of stream.
    public static func read(_ fd: Int32, into buffer: inout [UInt8], count: Int) -> Bool {
        var done = 0
        while done < count {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + done, count - done) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            done += n
        }
        return true
    }

    /// Writes all of `bytes`.
    public static func write(_ fd: Int32, _ bytes: [UInt8]) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, bytes.count - done) }
            if n < 0 && errno == EINTR { continue }
            precondition(n > 0, "write failed: \(errno)")
            done += n
        }
    }
}

/// Child processes running this same program (`/proc/self/exe child READ_FD WRITE_FD`), each
/// with a traced channel to it; `name(i)` names child `i` in the trace.
public func spawnSelfChildren(_ count: Int, channel: String, name: (Int) -> String) throws -> [(
    process: TracedProcess, channel: TracedChannel
)] {
    var children: [(TracedProcess, TracedChannel)] = []
    for i in 0..<count {
        let (local, remote) = try TracedChannel.pipePair(name: channel)
        let child = try TracedProcess.spawn(
            "/proc/self/exe", arguments: ["child", "\(remote.readFD)", "\(remote.writeFD)"], name: name(i))
        // Closed here, so children spawned later do not inherit this child's ends.
        _ = close(remote.readFD)
        _ = close(remote.writeFD)
        children.append((child, local))
    }
    return children
}

/// In a child started by ``spawnSelfChildren(_:channel:name:)``: its channel's descriptors.
public func childChannelDescriptors() -> (readFD: Int32, writeFD: Int32)? {
    let arguments = CommandLine.arguments
    guard arguments.count == 4, arguments[1] == "child", let r = Int32(arguments[2]), let w = Int32(arguments[3])
    else { return nil }
    return (r, w)
}

// MARK: - The same work under several models

/// A concurrency model a sample can run its work under (`--model NAME`), for comparing the
/// what-if predictions of `cctrace report` with real runs of the same work.
public enum SampleModel: String, CaseIterable, Sendable {
    case sequential, threads, processes, async, hybrid

    /// The model named by `--model NAME` on the command line, or `fallback`; exits with a
    /// one-line error when the sample does not offer the model named.
    public static func fromArguments(default fallback: SampleModel, offered: [SampleModel]) -> SampleModel {
        let arguments = CommandLine.arguments
        guard let i = arguments.firstIndex(of: "--model") else { return fallback }
        let name = i + 1 < arguments.count ? arguments[i + 1] : ""
        guard let model = SampleModel(rawValue: name), offered.contains(model) else {
            let list = offered.map(\.rawValue).joined(separator: "|")
            let line = "\(arguments[0]): --model takes \(list) (got '\(name)')\n"
            _ = line.withCString { write(2, $0, strlen($0)) }
            exit(2)
        }
        return model
    }
}

/// Nanoseconds on the monotonic clock.
public func monotonicNanoseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

/// Prints the line `make whatif` reads: `wall_ms=… model=…`.
public func printWallTime(since start: Int64, model: SampleModel) {
    let ms = Double(monotonicNanoseconds() - start) / 1e6
    print("wall_ms=\(Int(ms.rounded())) model=\(model.rawValue)")
}

/// Items of work, `itemsPerWorker` for each of `workers` workers (item ids `w * 1000 + j`),
/// run under `model`: one thread doing all of them (`sequential`), a thread per worker
/// (`threads`), or a child process per worker fed the ids over a traced pipe (`processes`,
/// whose children must call ``serveItems(work:)``). Returns the results combined.
public func runItems(
    model: SampleModel, workers: Int, itemsPerWorker: Int, channel: String = "jobs",
    work: @escaping @Sendable (UInt64) -> UInt64
) throws -> UInt64 {
    func ids(_ w: Int) -> [UInt64] { (0..<itemsPerWorker).map { UInt64(w * 1000 + $0) } }
    switch model {
    case .sequential:
        var acc: UInt64 = 0
        for w in 0..<workers { for id in ids(w) { acc ^= work(id) } }
        return acc
    case .processes:
        let children = try spawnSelfChildren(workers, channel: channel) { "worker-\($0)" }
        for (w, (_, channel)) in children.enumerated() {
            for id in ids(w) { try channel.send(id, encode: encodeItem) }
        }
        var acc: UInt64 = 0
        for (_, channel) in children {
            for _ in 0..<itemsPerWorker { acc ^= try channel.receive(decode: decodeItem) ?? 0 }
            channel.close()
        }
        for (child, _) in children { child.wait() }
        return acc
    default:
        let results = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: workers)
        results.initialize(repeating: 0)
        defer { results.deallocate() }
        let slots = UInt(bitPattern: results.baseAddress)
        let threads = (0..<workers).map { w in
            SampleThread(name: "worker-\(w)") {
                var acc: UInt64 = 0
                for j in 0..<itemsPerWorker { acc ^= work(UInt64(w * 1000 + j)) }
                UnsafeMutablePointer<UInt64>(bitPattern: slots)![w] = acc
            }
        }
        for t in threads { t.join() }
        return results.reduce(0, ^)
    }
}

/// In a child started by ``runItems(model:workers:itemsPerWorker:channel:work:)``: computes
/// each item id received and sends the result back, until the parent closes the pipe.
public func serveItems(readFD: Int32, writeFD: Int32, channel name: String = "jobs", work: (UInt64) -> UInt64) throws {
    CCTrace.setThreadName("child-main")
    let channel = TracedChannel(name: name, readFD: readFD, writeFD: writeFD)
    while let id = try channel.receive(decode: decodeItem) {
        try channel.send(work(id), encode: encodeItem)
    }
}

/// An item id or result: 8 bytes each way.
func encodeItem(_ value: UInt64) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }
func decodeItem(_ bytes: [UInt8]) -> UInt64 {
    bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
}

/// Starts this program again (`/proc/self/exe ARGUMENTS…`) as a process that is not traced —
/// a stand-in for a remote service, whose time the trace should see only as the program's
/// waits — and returns its pid. Descriptors without close-on-exec are inherited.
public func spawnUntracedSelf(arguments: [String]) -> pid_t {
    let argv = ["/proc/self/exe"] + arguments
    var environment: [String] = []
    var p = environ
    while let entry = p.pointee {
        let s = String(cString: entry)
        if !s.hasPrefix("CCTRACE_") { environment.append(s) }
        p += 1
    }
    func cStrings(_ list: [String]) -> [UnsafeMutablePointer<CChar>?] { list.map { strdup($0) } + [nil] }
    let cArgv = cStrings(argv)
    let cEnv = cStrings(environment)
    defer { for s in cArgv + cEnv { free(s) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, "/proc/self/exe", nil, nil, cArgv, cEnv)
    precondition(rc == 0, "posix_spawn failed: \(rc)")
    return pid
}
