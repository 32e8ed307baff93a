import CCTrace

// cctrace-crashtest MODE SPANS — records SPANS spans named `before` on two threads, then:
//   exit    returns normally (atexit flush)
//   abort   calls abort()            (SIGABRT, flushed by the signal handler, re-raised)
//   segv    writes through a bad pointer (SIGSEGV)
//   term    raises SIGTERM
//   kill    prints "ready", then records `after` spans until killed (SIGKILL: no handler runs)
//   spawn   (with CCTRACE_OUTPUT) records `parent` spans and runs itself in `exit` mode
//   primitives  one of each kind of event (lock, loop, task, counters), for Perfetto checks
// The trace goes to CRASHTEST_OUTPUT; the durability tests check what survived.
#if canImport(Glibc)
    import Glibc
#endif

func recordBefore(_ count: Int) {
    for i in 0..<count {
        CCTrace.withSpan("before") {
            if i % 1000 == 0 { CCTrace.withSpan("before.inner") {} }
        }
    }
}

func recordForever() -> Never {
    while true {
        CCTrace.withSpan("after") { usleep(100) }
    }
}

@inline(never)
func failFatally() -> Never {
    fatalError("cctrace crash test")
}

@inline(never)
func crashWithSegv() {
    let p = UnsafeMutablePointer<Int>(bitPattern: 8)!
    p.pointee = 42
}

func runHelper() -> Int32 {
    let args = CommandLine.arguments
    guard args.count >= 3, let spans = Int(args[2]) else {
        print("usage: cctrace-crashtest exit|abort|segv|term|kill SPANS")
        return 2
    }
    // A test runner may leave SIGTERM ignored, and children inherit that; a service normally
    // has the default disposition, so restore it before tracing starts (the recorder keeps
    // ignored signals ignored).
    signal(SIGTERM, SIG_DFL)
    var none = sigset_t()
    sigemptyset(&none)
    sigprocmask(SIG_SETMASK, &none, nil)
    if args[1] == "spawn" { return spawnChild(spans) }
    if !CCTrace.isRecording {
        guard let output = getenv("CRASHTEST_OUTPUT") else { return 2 }
        do {
            try CCTrace.start(TraceConfiguration(outputPath: String(cString: output)))
        } catch {
            return 3
        }
    }
    if args[1] == "primitives" { return recordPrimitives() }
    if args[1] == "family" { return runFamily(spans) }
    if args[1] == "ipc" { return runIPCParent(messages: spans) }
    if args[1] == "ipc-child", args.count == 4, let r = Int32(args[2]), let w = Int32(args[3]) {
        return runIPCChild(readFD: r, writeFD: w)
    }
    let worker = spawn { recordBefore(spans) }
    recordBefore(spans)
    pthread_join(worker, nil)
    switch args[1] {
    case "exit": return 0
    case "abort": abort()
    case "segv": crashWithSegv()
    case "term": raise(SIGTERM)
    case "fatal": failFatally()
    case "kill":
        _ = write(1, "ready\n", 6)
        recordForever()
    default: return 2
    }
    return 0
}

/// `primitives`: one of each kind of event the recorder writes (contended lock, loop ticks and
/// lag, a traced task with runs, spans, instants, counters), for loading into Perfetto.
func recordPrimitives() -> Int32 {
    let lock = TracedMutex(0, name: "demo-lock")
    let monitor = EventLoopMonitor(name: "demo-loop")
    let holder = spawn {
        CCTrace.setThreadName("holder")
        lock.withLock { v in
            usleep(30_000)
            v += 1
        }
    }
    usleep(5_000)
    lock.withLock { $0 += 1 }
    pthread_join(holder, nil)
    for i in 0..<5 {
        monitor.callback("tick") { usleep(2_000) }
        monitor.recordLag(nanoseconds: Int64(i) * 1_000_000, dueAt: Int64(cctrace_monotonic_now()))
    }
    let done = DispatchSemaphoreLite()
    CCTrace.task("demo-task") {
        try await Task.sleep(for: .milliseconds(5))
        CCTrace.withSpan("in-task") { usleep(1_000) }
        done.signal()
    }
    done.wait()
    CCTrace.instant("checkpoint", args: ["step": 1])
    CCTrace.counter("queue depth", 3)
    CCTrace.withSpan(named: "with args", args: ["bytes": 42, "peer": "w-1"]) {}
    return 0
}

func cctrace_monotonic_now() -> UInt64 {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
}

/// A semaphore without Foundation or Dispatch.
final class DispatchSemaphoreLite: @unchecked Sendable {
    private var value: sem_t = sem_t()
    init() { sem_init(&value, 0, 0) }
    func signal() { sem_post(&value) }
    func wait() { while sem_wait(&value) != 0 {} }
}

/// `family`: starts two traced children (copies of this program): one exits normally, one
/// crashes with SIGSEGV. Prints `children PID1 PID2`.
func runFamily(_ spans: Int) -> Int32 {
    CCTrace.withSpan("family.before") {}
    do {
        let ok = try TracedProcess.spawn("/proc/self/exe", arguments: ["exit", "\(spans)"], name: "worker-ok")
        let crash = try TracedProcess.spawn("/proc/self/exe", arguments: ["segv", "\(spans)"], name: "worker-crash")
        let a = ok.wait()
        let b = crash.wait()
        print("children \(ok.pid) \(crash.pid) \(a.exitCode ?? -1) \(b.signal ?? 0)")
    } catch {
        print("\(error)")
        return 6
    }
    return 0
}

/// `ipc`: sends MESSAGES requests of 1 KiB to a traced child over a TracedChannel and reads
/// each reply (the payload's byte sum).
func runIPCParent(messages: Int) -> Int32 {
    do {
        let (channel, remote) = try TracedChannel.pipePair(name: "work")
        let child = try TracedProcess.spawn(
            "/proc/self/exe", arguments: ["ipc-child", "\(remote.readFD)", "\(remote.writeFD)"], name: "ipc-child")
        close(remote.readFD)
        close(remote.writeFD)
        var total = 0
        for i in 0..<messages {
            try channel.send(i) { n in [UInt8](repeating: UInt8(truncatingIfNeeded: n), count: 1024) }
            total +=
                try channel.receive {
                    Int(UInt32(littleEndian: $0.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }))
                } ?? 0
        }
        channel.close()
        let end = child.wait()
        print("ipc \(child.pid) \(total) \(end.exitCode ?? -1)")
    } catch {
        print("\(error)")
        return 7
    }
    return 0
}

func runIPCChild(readFD: Int32, writeFD: Int32) -> Int32 {
    let channel = TracedChannel(name: "work", readFD: readFD, writeFD: writeFD)
    do {
        while let request = try channel.receive(decode: { $0 }) {
            let sum = UInt32(request.reduce(0) { $0 + Int($1) })
            try channel.send(sum) { s in withUnsafeBytes(of: s.littleEndian) { Array($0) } }
        }
    } catch {
        return 8
    }
    return 0
}

/// `spawn`: traced through CCTRACE_OUTPUT (started before main), records `parent` spans and runs
/// a copy of itself in `exit` mode, which inherits the environment.
func spawnChild(_ spans: Int) -> Int32 {
    for _ in 0..<spans { CCTrace.withSpan("parent") {} }
    var pid: pid_t = 0
    let argv: [UnsafeMutablePointer<CChar>?] = [strdup("cctrace-crashtest"), strdup("exit"), strdup("\(spans)"), nil]
    defer { argv.forEach { free($0) } }
    guard posix_spawn(&pid, "/proc/self/exe", nil, nil, argv, environ) == 0 else { return 4 }
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    print("child \(pid)")
    return status == 0 ? 0 : 5
}

final class Body {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}

func spawn(_ body: @escaping () -> Void) -> pthread_t {
    var t = pthread_t()
    let box = Unmanaged.passRetained(Body(body)).toOpaque()
    pthread_create(
        &t, nil,
        {
            Unmanaged<Body>.fromOpaque($0!).takeRetainedValue().run(); return nil
        }, box)
    return t
}

exit(runHelper())
