import CCTraceFormat
import CCTraceNative
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A child process that joins its parent's trace.
///
/// The child gets the trace context through its environment: `CCTRACE_OUTPUT` (its own file,
/// `PARENT_FILE.<child pid>`), `CCTRACE_SPAWN_TS` and `CCTRACE_SPAWN_FLOW`. A child that links
/// CCTrace starts recording before its `main`, records its start-up as a slice `process start`
/// (from the parent's spawn to its first instruction) and ends the flow arrow the parent began.
/// When the parent's session stops, it merges the files of the children it waited for into its
/// own, so one command yields one trace with every process on one clock. A child that crashed
/// still contributes everything it flushed, and the parent records how it died.
///
/// What the parent records (category `cctrace.process`): `spawn <name>` (the `posix_spawn`
/// call, `args.child_pid`), the start of the flow, `wait <name>` while ``wait()`` blocks, and
/// a process-scoped instant `exit <name>` with `args.pid`, `args.status` (exit code or -1) and
/// `args.signal` (the signal that killed it, or 0).
public final class TracedProcess: Sendable {
    /// The child's pid.
    public let pid: pid_t
    /// The name used in the trace.
    public let name: String

    /// How a child ended.
    public struct Termination: Sendable, Equatable {
        /// The exit code, when it exited.
        public var exitCode: Int32?
        /// The signal that killed it, when one did.
        public var signal: Int32?
    }

    private init(pid: pid_t, name: String) {
        self.pid = pid
        self.name = name
    }

    /// Starts `executable` (a path) with `arguments` (not including argv[0]).
    ///
    /// - Throws: ``TracedProcessError`` when the process cannot be started.
    public static func spawn(
        _ executable: String, arguments: [String] = [], name: String? = nil,
        environment: [String: String]? = nil
    ) throws(TracedProcessError) -> TracedProcess {
        let displayName = name ?? String(executable.split(separator: "/").last ?? Substring(executable))
        var env = environment ?? ProcessEnvironment.current()
        let recording = cctrace_is_enabled()
        let flowID = Recorder.shared.nextAsyncID.add(1, ordering: .relaxed).oldValue | (UInt64(getpid()) << 32)
        let spawnStart = cctrace_now()
        let spawnNs = cctrace_monotonic_ns()
        if recording, let output = Recorder.shared.session?.configuration.outputPath {
            env["CCTRACE_OUTPUT"] = output + ".%p"
            env["CCTRACE_SPAWN_TS"] = String(spawnNs)
            env["CCTRACE_SPAWN_FLOW"] = String(flowID)
            env["CCTRACE_PROCESS_NAME"] = displayName
        } else {
            for key in ["CCTRACE_OUTPUT", "CCTRACE_SPAWN_TS", "CCTRACE_SPAWN_FLOW"] { env[key] = nil }
        }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, nil, nil, argv, envp)
        guard rc == 0 else { throw TracedProcessError(executable: executable, errno: rc) }
        if recording {
            let recorder = Recorder.shared
            let flags = EventCategory.flags(EventCategory.process, interned: true)
            let aux = recorder.storeArguments(Array("\"child_pid\":\(pid)".utf8))
            CCTrace._append(
                EventKind.complete, flags, UInt64(recorder.intern("spawn \(displayName)")), 0, spawnStart,
                cctrace_now(),
                aux)
            CCTrace._append(EventKind.flowStart, flags, UInt64(recorder.intern("spawn")), 0, spawnStart, flowID, 0)
            recorder.childSpawned(pid: pid)
        }
        return TracedProcess(pid: pid, name: displayName)
    }

    /// Waits for the child to end and records how it did.
    @discardableResult
    public func wait() -> Termination {
        let start = cctrace_now()
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let end = cctrace_now()
        let termination: Termination
        if status & 0x7F == 0 {
            termination = Termination(exitCode: (status >> 8) & 0xFF, signal: nil)
        } else {
            termination = Termination(exitCode: nil, signal: status & 0x7F)
        }
        if cctrace_is_enabled() {
            let recorder = Recorder.shared
            let flags = EventCategory.flags(EventCategory.process, interned: true)
            CCTrace._append(
                EventKind.complete, flags, UInt64(recorder.intern(TraceVocabulary.Event.waitPrefix.string + name)), 0,
                start, end, 0)
            let args =
                "\"pid\":\(pid),\"status\":\(termination.exitCode ?? -1),\"signal\":\(termination.signal ?? 0)"
            let aux = recorder.storeArguments(Array(args.utf8))
            CCTrace._append(EventKind.processInstant, flags, UInt64(recorder.intern("exit \(name)")), 0, end, 0, aux)
            recorder.childEnded(pid: pid)
        }
        return termination
    }
}

/// A child process could not be started.
public struct TracedProcessError: Error, CustomStringConvertible, Sendable {
    /// The executable.
    public var executable: String
    /// The error number `posix_spawn` returned.
    public var errno: Int32

    public var description: String {
        "cannot start \(executable): \(String(cString: strerror(errno)))"
    }
}

/// The child's half: called at autostart when the parent passed a spawn context.
enum ChildProcessStart {
    static func recordStart() {
        guard let ts = getenv("CCTRACE_SPAWN_TS").flatMap({ UInt64(String(cString: $0)) }),
            let flow = getenv("CCTRACE_SPAWN_FLOW").flatMap({ UInt64(String(cString: $0)) })
        else { return }
        let now = cctrace_monotonic_ns()
        let recorder = Recorder.shared
        let flags = EventCategory.flags(EventCategory.process, interned: true, monotonic: true)
        let aux = recorder.storeArguments(Array("\"parent_pid\":\(getppid())".utf8))
        CCTrace._append(
            EventKind.complete, flags, UInt64(recorder.intern(TraceVocabulary.Event.processStart.string)), 0, ts, now,
            aux)
        CCTrace._append(EventKind.flowEnd, flags, UInt64(recorder.intern("spawn")), 0, ts, flow, 0)
        // Grandchildren get their context from their own parent, not from us.
        unsetenv("CCTRACE_SPAWN_TS")
        unsetenv("CCTRACE_SPAWN_FLOW")
    }
}
