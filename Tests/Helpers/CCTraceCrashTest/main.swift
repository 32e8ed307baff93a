import CCTrace

// cctrace-crashtest MODE SPANS — records SPANS spans named `before` on two threads, then:
//   exit    returns normally (atexit flush)
//   abort   calls abort()            (SIGABRT, flushed by the signal handler, re-raised)
//   segv    writes through a bad pointer (SIGSEGV)
//   term    raises SIGTERM
//   kill    prints "ready", then records `after` spans until killed (SIGKILL: no handler runs)
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
    guard let output = getenv("CRASHTEST_OUTPUT") else { return 2 }
    do {
        try CCTrace.start(TraceConfiguration(outputPath: String(cString: output)))
    } catch {
        return 3
    }
    let worker = spawn { recordBefore(spans) }
    recordBefore(spans)
    pthread_join(worker, nil)
    switch args[1] {
    case "exit": return 0
    case "abort": abort()
    case "segv": crashWithSegv()
    case "term": raise(SIGTERM)
    case "kill":
        _ = write(1, "ready\n", 6)
        recordForever()
    default: return 2
    }
    return 0
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
