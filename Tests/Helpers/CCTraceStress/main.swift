// cctrace-stress: a program that does everything that has hung or crashed profilers, as hard
// as it can, so `make stress` can run it many times under the sampler at its highest rate and
// the watchdog at a few milliseconds. Its output depends only on its arguments (so a run under
// tracing can be compared with one without): a line of counts and a checksum.
//
//   cctrace-stress [THREADS [ROUNDS]]
//
// Each thread, every round: allocates and frees (arrays, strings, dictionaries), throws and
// catches Swift errors, throws and catches C++ exceptions several frames deep, starts and joins
// a thread, runs a task group of Swift tasks, runs a loop callback long enough for the watchdog;
// one thread also forks (the child computes and exits) and spawns a process, another loads
// and unloads a shared library (libbz2) and runs code in it. A lock is contended throughout.
import CCTrace
import CxxExceptions
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

struct Failure: Error { var value: Int }

@inline(never) func deepThrow(_ depth: Int, _ value: Int) throws -> Int {
    if depth == 0 { throw Failure(value: value) }
    return try deepThrow(depth - 1, value) &+ 1
}

@inline(never) func churn(_ seed: Int) -> Int {
    var total = 0
    var words: [String] = []
    for i in 0..<64 {
        var a = [Int](repeating: seed &+ i, count: 16 + (seed &+ i) % 200)
        a.append(i)
        total &+= a.reduce(0, &+)
        words.append(String(repeating: "x", count: 1 + i % 40) + "\(seed)")
    }
    var d: [String: Int] = [:]
    for (i, w) in words.enumerated() { d[w, default: 0] += i }
    return total &+ d.count &+ words.joined().utf8.count
}

final class Counter: @unchecked Sendable {
    let lock = TracedMutex(0, name: "stress")
}

func taskGroupRound(_ seed: Int) async -> Int {
    await withTaskGroup(of: Int.self) { group in
        for i in 0..<8 { group.addTask { churn(seed &+ i) } }
        var sum = 0
        for await v in group { sum &+= v }
        return sum
    }
}

func runTasks(_ seed: Int) -> Int {
    let result = UnsafeMutablePointer<Int>.allocate(capacity: 1)
    defer { result.deallocate() }
    let done = DispatchSemaphore(value: 0)
    let box = UnsafeSendable(result)
    Task.detached {
        box.value.pointee = await taskGroupRound(seed)
        done.signal()
    }
    done.wait()
    return result.pointee
}

struct UnsafeSendable<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}

@inline(never) func forkAndSpawn(_ seed: Int) -> Int {
    // fork: the child does only async-signal-safe work (the parent's locks may be held by threads
    // that do not exist in the child) and exits.
    let pid = fork()
    if pid == 0 {
        var x = seed
        for i in 0..<10_000 { x = x &* 31 &+ i }
        _exit(x == 42 ? 1 : 0)
    }
    var status: Int32 = 0
    if pid > 0 { waitpid(pid, &status, 0) }
    var child: pid_t = 0
    var argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
    defer { free(argv[0]) }
    let spawned = posix_spawn(&child, "/bin/true", nil, nil, &argv, environ)
    var spawnStatus: Int32 = 0
    if spawned == 0 { waitpid(child, &spawnStatus, 0) }
    return (pid > 0 && status == 0 ? 1 : 0) + (spawned == 0 && spawnStatus == 0 ? 1 : 0)
}

/// Loads a library, runs code in it and unloads it: images come and go while samples that may
/// point into them are unwound.
@inline(never) func loadAndUnload() -> Int {
    guard let handle = dlopen("libbz2.so.1.0", RTLD_NOW | RTLD_LOCAL) else { return 1 }
    var n = 1
    if let symbol = dlsym(handle, "BZ2_bzlibVersion") {
        typealias Version = @convention(c) () -> UnsafePointer<CChar>?
        let version = unsafeBitCast(symbol, to: Version.self)
        for _ in 0..<2000 { n = version() != nil ? 1 : 0 }
    }
    dlclose(handle)
    return n
}

func worker(_ index: Int, rounds: Int, counter: Counter) -> Int {
    var sum = 0
    // A loop per thread whose callbacks run for milliseconds: the watchdog captures them.
    let loop = EventLoopMonitor(name: "stress-\(index)")
    for round in 0..<rounds {
        let seed = index &* 1000 &+ round
        sum &+= loop.callback("round") {
            var s = 0
            for k in 0..<200 { s &+= churn(seed &+ k) }
            return s
        }
        do { sum &+= try deepThrow(8, seed) } catch let f as Failure { sum &+= f.value } catch {}
        sum &+= Int(cctrace_test_throw_and_catch(4, 8))
        let thread = Thread { _ = churn(seed &+ 7) }
        thread.start()
        while !thread.isFinished { usleep(50) }
        sum &+= runTasks(seed)
        counter.lock.withLock { value in
            value &+= churn(seed) & 0xff
        }
        if index == 0 && round % 4 == 0 { sum &+= forkAndSpawn(seed) }
        if index == 1 { sum &+= loadAndUnload() }
    }
    return sum
}

func main() {
    let args = CommandLine.arguments
    let threads = args.count > 1 ? max(1, Int(args[1]) ?? 8) : 8
    let rounds = args.count > 2 ? max(1, Int(args[2]) ?? 40) : 40
    let counter = Counter()
    let sums = UnsafeMutablePointer<Int>.allocate(capacity: threads)
    sums.initialize(repeating: 0, count: threads)
    let box = UnsafeSendable(sums)
    var pthreads: [Thread] = []
    for i in 0..<threads {
        let t = Thread { box.value[i] = worker(i, rounds: rounds, counter: counter) }
        t.stackSize = 1 << 20
        pthreads.append(t)
        t.start()
    }
    while pthreads.contains(where: { !$0.isFinished }) { usleep(1000) }
    var total = 0
    for i in 0..<threads { total &+= sums[i] }
    sums.deallocate()
    let final = counter.lock.withLock { $0 }
    print("stress ok: threads=\(threads) rounds=\(rounds) checksum=\(total) lock=\(final)")
}

main()
