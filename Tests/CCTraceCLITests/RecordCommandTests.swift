import Foundation
import Testing

/// `cctrace record -- CMD` on programs that never linked cctrace: a C program and the real
/// Python interpreter (here `python3` is a pyenv shell shim that starts other processes).
@Suite(.serialized) struct RecordCommandTests {
    static let helpers = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Helpers/preload")

    static func run(_ executable: String, _ arguments: [String], directory: URL) throws -> (
        status: Int32, stdout: String, stderr: String
    ) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments
        process.currentDirectoryURL = directory
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    static var cctraceBinary: String {
        var dir = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        while dir.path != "/" && !FileManager.default.fileExists(atPath: dir.appendingPathComponent("cctrace").path) {
            dir = dir.deletingLastPathComponent()
        }
        return dir.appendingPathComponent("cctrace").path
    }

    func temporary() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("record-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    func report(_ trace: String, in dir: URL) throws -> [String: Any] {
        let r = try Self.run(Self.cctraceBinary, ["report", "--format", "json", trace], directory: dir)
        #expect(r.status == 0, "\(r.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    }

    func warnings(_ json: [String: Any]) -> Set<String> {
        Set(
            (json["findings"] as? [[String: Any]] ?? []).filter { $0["severity"] as? String == "warning" }.compactMap {
                $0["id"] as? String
            })
    }

    /// A C program whose threads hold a mutex through a sleep: the contended waits are recorded
    /// with their owner; output and exit status are the program's own.
    @Test func cProgramLockContention() throws {
        let dir = try temporary()
        defer { try? FileManager.default.removeItem(at: dir) }
        let binary = dir.appendingPathComponent("contention").path
        let cc = try Self.run(
            "cc", ["-O2", "-o", binary, Self.helpers.appendingPathComponent("contention.c").path, "-lpthread"],
            directory: dir)
        try #require(cc.status == 0, "\(cc.stderr)")
        let plain = try Self.run(binary, [], directory: dir)
        let traced = try Self.run(Self.cctraceBinary, ["record", "-o", "c.json", "--", binary], directory: dir)
        #expect(plain.status == 3 && traced.status == 3)
        #expect(plain.stdout == traced.stdout)
        // The four workers' exits are in the trace.
        let raw = try String(contentsOf: dir.appendingPathComponent("c.json"), encoding: .utf8)
        #expect(raw.components(separatedBy: "\"thread exit\"").count - 1 >= 4)
        let json = try report(dir.appendingPathComponent("c.json").path, in: dir)
        #expect(warnings(json).contains("lock-contention"), "\(json["findings"] ?? "")")
        let lock = (json["findings"] as? [[String: Any]] ?? []).first { $0["id"] as? String == "lock-contention" }
        #expect((lock?["metrics"] as? [String: Any])?["waiters"] as? Int ?? 0 >= 3)
    }

    /// CPU-bound Python threads: CPU-bound work serialized on one lock (the GIL) → processes.
    @Test func pythonCPUThreadsAreSerialized() throws {
        let dir = try temporary()
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = dir.appendingPathComponent("cpu.py")
        try """
        import threading
        def work(n):
            s = 0
            for i in range(n):
                s += i * i
            return s
        ts = [threading.Thread(target=work, args=(3_000_000,)) for _ in range(4)]
        for t in ts: t.start()
        for t in ts: t.join()
        print("done")
        """.write(to: script, atomically: true, encoding: .utf8)
        let traced = try Self.run(
            Self.cctraceBinary, ["record", "-o", "py.json", "--", "python3", script.path], directory: dir)
        #expect(traced.status == 0, "\(traced.stderr)")
        #expect(traced.stdout == "done\n")
        let json = try report(dir.appendingPathComponent("py.json").path, in: dir)
        #expect(warnings(json).contains("cpu-serialized"), "\(json["findings"] ?? "")")
        #expect((json["recommendation"] as? [String: Any])?["model"] as? String == "processes")
    }

    /// I/O-bound Python threads (a local socket server answering in 2 ms): waiting on sockets,
    /// threads are right.
    @Test func pythonIOThreadsWaitOnSockets() throws {
        let dir = try temporary()
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = dir.appendingPathComponent("io.py")
        try """
        import socket, threading, time
        from concurrent.futures import ThreadPoolExecutor
        srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(16)
        port = srv.getsockname()[1]
        def handle(c):
            while True:
                d = c.recv(64)
                if not d: break
                time.sleep(0.002)
                c.sendall(d)
        def serve():
            while True:
                c, _ = srv.accept()
                threading.Thread(target=handle, args=(c,), daemon=True).start()
        threading.Thread(target=serve, daemon=True).start()
        def client(i):
            s = socket.create_connection(("127.0.0.1", port))
            for _ in range(60):
                s.sendall(b"x" * 64); s.recv(64)
            s.close()
        with ThreadPoolExecutor(4) as ex:
            list(ex.map(client, range(4)))
        print("done")
        """.write(to: script, atomically: true, encoding: .utf8)
        let traced = try Self.run(
            Self.cctraceBinary, ["record", "-o", "io.json", "--", "python3", script.path], directory: dir)
        #expect(traced.status == 0, "\(traced.stderr)")
        let json = try report(dir.appendingPathComponent("io.json").path, in: dir)
        #expect(
            (json["recommendation"] as? [String: Any])?["model"] as? String == "threads",
            "\(json["recommendation"] ?? "")")
        #expect(!warnings(json).contains("cpu-serialized"))
        let work = try #require(json["work"] as? [String: Any])
        #expect((work["cpu_share"] as? Double ?? 1) < 0.3)
    }

    /// asyncio seen from outside: the thread that keeps polling is the event loop; a blocking
    /// `time.sleep` in a coroutine blocks it (keep async, offload it), and without one the
    /// design is kept.
    @Test(arguments: [("blocking", true), ("clean", false)])
    func pythonAsyncio(_ variant: String, blocking: Bool) throws {
        let dir = try temporary()
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = dir.appendingPathComponent("aio.py")
        try """
        import asyncio, time
        async def handler(i):
            await asyncio.sleep(0.2)
            return i
        async def blocking():
            time.sleep(\(blocking ? "0.3" : "0"))
        async def main():
            for _ in range(3):
                await asyncio.gather(*(handler(i) for i in range(100)), blocking())
        asyncio.run(main())
        """.write(to: script, atomically: true, encoding: .utf8)
        let traced = try Self.run(
            Self.cctraceBinary, ["record", "-o", "aio.json", "--", "python3", script.path], directory: dir)
        #expect(traced.status == 0, "\(traced.stderr)")
        let json = try report(dir.appendingPathComponent("aio.json").path, in: dir)
        let rec = json["recommendation"] as? [String: Any] ?? [:]
        #expect(rec["current_model"] as? String == "async", "\(rec)")
        if blocking {
            #expect(warnings(json).contains("blocked-event-loop"), "\(json["findings"] ?? "")")
            #expect(rec["model"] as? String == "hybrid")
        } else {
            #expect(rec["model"] as? String == "async")
            #expect(!warnings(json).contains("blocked-event-loop"))
        }
    }

    /// A program that crashes: the status says so, and what it recorded before is in the trace.
    @Test func crashKeepsTheTrace() throws {
        let dir = try temporary()
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = dir.appendingPathComponent("crash.c")
        try """
        #include <time.h>
        int main(void) {
            struct timespec ts = {0, 30000000};
            nanosleep(&ts, 0);
            *(volatile int *)8 = 1;
            return 0;
        }
        """.write(to: source, atomically: true, encoding: .utf8)
        let binary = dir.appendingPathComponent("crash").path
        _ = try Self.run("cc", ["-o", binary, source.path], directory: dir)
        let traced = try Self.run(Self.cctraceBinary, ["record", "-o", "crash.json", "--", binary], directory: dir)
        #expect(traced.status == 128 + SIGSEGV)
        let json = try report(dir.appendingPathComponent("crash.json").path, in: dir)
        let threads = json["threads"] as? [[String: Any]] ?? []
        #expect(!threads.isEmpty)
        let spans = json["busiest_spans"] as? [[String: Any]] ?? []
        #expect(spans.contains { $0["name"] as? String == "clock_nanosleep" || $0["name"] as? String == "nanosleep" })
    }
}

extension RecordCommandTests {
    /// Builds `waits.c` and records it with `arguments`; the trace's events, one per line.
    func recordWaits(_ arguments: [String], in dir: URL, environment: [String] = []) throws -> [[String: Any]] {
        let binary = dir.appendingPathComponent("waits").path
        let cc = try Self.run(
            "cc", ["-O2", "-o", binary, Self.helpers.appendingPathComponent("waits.c").path, "-lpthread"],
            directory: dir)
        try #require(cc.status == 0, "\(cc.stderr)")
        // `run` goes through env(1): NAME=VALUE arguments set the traced program's environment.
        let command = environment + [Self.cctraceBinary, "record", "-o", "w.json", "--", binary] + arguments
        let traced = try Self.run(command[0], Array(command.dropFirst()), directory: dir)
        #expect(traced.status == 0, "\(traced.stderr)")
        let data = try Data(contentsOf: dir.appendingPathComponent("w.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
    }

    /// 200 threads of ~2 ms each, one after another: their CPU (~400 ms) is in the trace even
    /// though each lived less than the sampler's 20 ms period.
    @Test func shortLivedThreadsKeepTheirCPU() throws {
        let dir = try temporary()
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try recordWaits(["threads"], in: dir)
        let json = try report(dir.appendingPathComponent("w.json").path, in: dir)
        let total = (json["work"] as? [String: Any])?["total"] as? [String: Any]
        let running = total?["running_ms"] as? Double ?? 0
        #expect(running > 250, "running \(running) ms of ~400")
    }

    /// flock waits are lock waits, named by the file, with one lock id in both processes.
    @Test func fileLocksAreLockWaits() throws {
        let dir = try temporary()
        defer { try? FileManager.default.removeItem(at: dir) }
        let events = try recordWaits(["flock", dir.appendingPathComponent("lockfile").path], in: dir)
        let waits = events.filter { $0["cat"] as? String == "cctrace.lock" && $0["name"] as? String == "lock wait" }
        #expect(!waits.isEmpty)
        let args = waits.compactMap { $0["args"] as? [String: Any] }
        #expect(
            args.allSatisfy {
                ($0["lock"] as? String ?? "").hasPrefix("flock ") && ($0["lock"] as? String ?? "").hasSuffix("lockfile")
            })
        #expect(Set(args.compactMap { $0["lock_id"] as? Int }).count == 1)
    }

    /// fsync and usleep (a sleep glibc makes without the PLT) are recorded waits.
    @Test func storageWaitsAndInternalSleeps() throws {
        let dir = try temporary()
        defer { try? FileManager.default.removeItem(at: dir) }
        // Every blocking call recorded, however short (a 4 KiB fsync may take microseconds).
        let events = try recordWaits(
            ["storage", dir.appendingPathComponent("data").path], in: dir, environment: ["CCTRACE_IO_MIN_US=0"])
        let names = events.filter { $0["cat"] as? String == "cctrace.preload" }.compactMap { $0["name"] as? String }
        #expect(names.filter { $0 == "usleep" }.count == 10, "\(Set(names))")
        #expect(names.filter { $0 == "fsync" }.count == 20, "\(Set(names))")
    }

    /// CPython's threading.Lock is a semaphore its waiters post: contended acquires are lock
    /// waits (lock contention), not waits for a result.
    @Test func pythonLockSemaphoreIsALock() throws {
        let dir = try temporary()
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = dir.appendingPathComponent("lock.py")
        try """
        import threading, time
        lock = threading.Lock()
        def work():
            for _ in range(20):
                with lock:
                    time.sleep(0.005)
        ts = [threading.Thread(target=work) for _ in range(3)]
        for t in ts: t.start()
        for t in ts: t.join()
        print("done")
        """.write(to: script, atomically: true, encoding: .utf8)
        let traced = try Self.run(
            Self.cctraceBinary, ["record", "-o", "py.json", "--", "python3", script.path], directory: dir)
        #expect(traced.stdout == "done\n")
        let data = try Data(contentsOf: dir.appendingPathComponent("py.json"))
        let events = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        let semaphoreWaits = events.filter {
            $0["name"] as? String == "lock wait"
                && (($0["args"] as? [String: Any])?["lock"] as? String ?? "").hasPrefix("semaphore")
        }
        #expect(semaphoreWaits.count >= 10, "\(semaphoreWaits.count) semaphore lock waits")
        let json = try report(dir.appendingPathComponent("py.json").path, in: dir)
        #expect(warnings(json).contains("lock-contention"), "\(json["findings"] ?? "")")
    }

    /// Holds of a contended lock tell a global lock (held across all the work: processes) from
    /// a critical section around part of it (threads, narrow the lock).
    @Test(arguments: [(100, "processes"), (30, "threads")])
    func lockHoldShareDecides(_ percent: Int, model: String) throws {
        let dir = try temporary()
        defer { try? FileManager.default.removeItem(at: dir) }
        let events = try recordWaits(["lockshare", String(percent)], in: dir)
        let holds = events.filter { $0["cat"] as? String == "cctrace.lock" && $0["name"] as? String == "lock hold" }
        #expect(holds.count >= 50, "\(holds.count) holds")
        let json = try report(dir.appendingPathComponent("w.json").path, in: dir)
        let recommendation = json["recommendation"] as? [String: Any]
        #expect(recommendation?["model"] as? String == model, "\(recommendation ?? [:])")
        let serialized = (json["findings"] as? [[String: Any]] ?? []).first { $0["id"] as? String == "cpu-serialized" }
        let hold = (serialized?["metrics"] as? [String: Any])?["hold_share"] as? Double ?? -1
        if percent == 100 {
            #expect(hold >= 0.7, "hold share \(hold)")
            #expect(warnings(json).contains("cpu-serialized"))
        } else {
            // Serialized or not (that depends on the hand-offs), the verdict is not processes.
            #expect(hold < 0.7, "hold share \(hold)")
            #expect(!warnings(json).contains("cpu-serialized"))
        }
    }

    /// An epoll loop seen from outside: a 150 ms computing stall and a 150 ms poll on another
    /// descriptor inside an iteration are both blocked-event-loop, told apart by their CPU.
    @Test func loopIterationsSeenFromOutside() throws {
        let dir = try temporary()
        defer { try? FileManager.default.removeItem(at: dir) }
        let events = try recordWaits(["loop"], in: dir)
        let iterations = events.filter { $0["name"] as? String == "loop iteration" }
        #expect(iterations.count == 2, "\(iterations)")
        let cpu = iterations.compactMap { ($0["args"] as? [String: Any])?["cpu_ms"] as? Double }.sorted()
        #expect(cpu.count == 2 && cpu[0] < 30 && cpu[1] > 100, "\(cpu)")
        // The nested poll is recorded with a call site other than the loop's.
        let sites = Set(iterations.compactMap { ($0["args"] as? [String: Any])?["site"] as? String })
        let nested = events.filter { $0["name"] as? String == "poll" }
        #expect(sites.count == 1 && nested.count == 1)
        #expect(!sites.contains(((nested.first?["args"] as? [String: Any])?["site"] as? String) ?? ""))
        let json = try report(dir.appendingPathComponent("w.json").path, in: dir)
        #expect(warnings(json).contains("blocked-event-loop"), "\(json["findings"] ?? "")")
        let loop = (json["findings"] as? [[String: Any]] ?? []).first { $0["id"] as? String == "blocked-event-loop" }
        let natures = (loop?["evidence"] as? [[String: Any]] ?? []).map { "\($0)" }
        #expect(natures.contains { $0.contains("poll()") && $0.contains("blocking") }, "\(natures)")
        #expect(natures.contains { $0.contains("own code") && $0.contains("CPU work") }, "\(natures)")
    }

    /// A pipe between a parent and its forked children is an IPC channel (bytes, the processes
    /// reading from it), and the lock the children take turns on to read it is not contention.
    @Test func pipesToChildrenAreIPC() throws {
        let dir = try temporary()
        defer { try? FileManager.default.removeItem(at: dir) }
        let events = try recordWaits(["pipe"], in: dir)
        let totals = events.filter {
            ($0["name"] as? String ?? "").hasPrefix("io pipe:[") && $0["ph"] as? String == "C"
        }
        #expect(Set(totals.compactMap { $0["pid"] as? Int }).count >= 2, "the parent and a child count bytes")
        // The children end with _exit, which skips destructors: the shim still writes their
        // last totals, so everything the parent wrote is read in the trace.
        var readByPid: [Int: Double] = [:]
        for t in totals {
            guard let pid = t["pid"] as? Int, let read = (t["args"] as? [String: Any])?["read_bytes"] as? Double else {
                continue
            }
            readByPid[pid] = max(readByPid[pid] ?? 0, read)
        }
        #expect(readByPid.values.reduce(0, +) >= 640 * 1_048_576, "\(readByPid)")
        let json = try report(dir.appendingPathComponent("w.json").path, in: dir)
        let ipc = (json["findings"] as? [[String: Any]] ?? []).first {
            $0["id"] as? String == "ipc-overhead" && ($0["subject"] as? String ?? "").hasPrefix("pipe:[")
        }
        let metrics = ipc?["metrics"] as? [String: Any]
        #expect((metrics?["bytes"] as? Double ?? 0) >= 640 * 1_048_576, "\(ipc ?? [:])")
        // The peers are named: the parent and the children that read.
        #expect((ipc?["summary"] as? String ?? "").contains(" between waits ("), "\(ipc ?? [:])")
        #expect(warnings(json).contains("ipc-overhead") && !warnings(json).contains("lock-contention"))
        let recommendation = json["recommendation"] as? [String: Any]
        #expect(recommendation?["model"] as? String == "threads", "\(recommendation ?? [:])")
    }

    /// A file lock taken by trying and sleeping between tries (SQLite's busy handler) is a
    /// lock wait from the first failed try to the success; processes queueing on it → one
    /// writer.
    @Test func retriedFileLockIsALockWait() throws {
        let dir = try temporary()
        defer { try? FileManager.default.removeItem(at: dir) }
        let events = try recordWaits(["retrylock", dir.appendingPathComponent("db").path], in: dir)
        let waits = events.filter { $0["name"] as? String == "lock wait" }
        let pids = Set(waits.compactMap { $0["pid"] as? Int })
        #expect(waits.count >= 4 && pids.count >= 2, "\(waits.count) waits in \(pids.count) processes")
        #expect(
            waits.allSatisfy {
                (($0["args"] as? [String: Any])?["lock"] as? String ?? "").hasPrefix("fcntl lock ")
            })
        let json = try report(dir.appendingPathComponent("w.json").path, in: dir)
        #expect(warnings(json).contains("lock-contention"), "\(json["findings"] ?? "")")
        let recommendation = json["recommendation"] as? [String: Any]
        #expect(recommendation?["model"] as? String == "sequential", "\(recommendation ?? [:])")
    }

    /// A signal sent to the process reaches the program's threads, not the shim's sampler: a
    /// program that waits for it in sigsuspend with it blocked elsewhere (nginx's master) does
    /// not sleep on.
    @Test func processSignalsReachTheProgram() throws {
        let dir = try temporary()
        defer { try? FileManager.default.removeItem(at: dir) }
        let binary = dir.appendingPathComponent("waits").path
        let cc = try Self.run(
            "cc", ["-O2", "-o", binary, Self.helpers.appendingPathComponent("waits.c").path, "-lpthread"],
            directory: dir)
        try #require(cc.status == 0, "\(cc.stderr)")
        let traced = try Self.run(
            "timeout", ["30", Self.cctraceBinary, "record", "-o", "s.json", "--", binary, "sigsuspend"], directory: dir)
        #expect(traced.status == 0 && traced.stdout == "sigsuspend done\n", "\(traced.status) \(traced.stderr)")
    }

    /// Reads through stdio (glibc fills the FILE buffer with its internal read, which the read
    /// hook never sees) are recorded when they wait: fgets on a pipe.
    @Test func stdioReadsAreSeen() throws {
        let dir = try temporary()
        defer { try? FileManager.default.removeItem(at: dir) }
        let events = try recordWaits(["stdio"], in: dir)
        let reads = events.filter { $0["name"] as? String == "fgets" }
        #expect(reads.count >= 4, "\(reads.count) fgets")
        #expect(reads.allSatisfy { ($0["args"] as? [String: Any])?["kind"] as? String == "pipe" })
    }
}
