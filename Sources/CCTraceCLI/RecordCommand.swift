import ArgumentParser
import CCTraceAnalysis

#if canImport(Glibc)
    import Glibc
#endif

/// The recorded command's pid, for the handler that passes stop signals on (a signal handler
/// can reach only globals; written before the handlers are installed, read in them).
nonisolated(unsafe) private var recordedChild: pid_t = 0

/// `cctrace record [-o FILE] -- CMD ARGS…`: runs a program that was never instrumented with
/// `libcctrace-preload.so` in `LD_PRELOAD` (inherited by every process it starts), then merges
/// the per-process files into one trace.
struct Record: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Trace a program that does not link CCTrace (any pthread program, CPython included).",
        discussion: """
            Records contended pthread mutexes, blocking calls over a threshold (sockets, pipes, files, \
            poll/epoll/select, sleeps), condition and semaphore waits, per-thread CPU time and thread \
            names in the command and every process it starts. Exits with the command's status. \
            Thresholds: CCTRACE_LOCK_MIN_US (20), CCTRACE_IO_MIN_US (1000).
            """
    )

    @Option(name: .shortAndLong, help: "The trace to write.")
    var output: String = "record.trace.json"

    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments (after --).")
    var command: [String] = []

    func run() throws {
        var command = self.command
        // Passthrough capture takes everything, `--help` included: before `--`, it asks for help.
        if let first = command.first, first == "--help" || first == "-h" || first == "help" {
            Swift.print(Self.helpMessage())
            return
        }
        if command.first == "--" { command.removeFirst() }
        guard !command.isEmpty else { throw ValidationError("give the command to record after --") }
        guard let library = PreloadLibrary.locate() else {
            FileError.print(
                "cctrace: error: libcctrace-preload.so not found and could not be built (is `cc` installed?)")
            throw ExitCode(1)
        }
        var template = Array("/tmp/cctrace-record-XXXXXX".utf8CString)
        guard let dirPointer = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw ExitCode(1)
        }
        let dir = String(cString: dirPointer)
        defer { removeDirectory(dir) }

        var environment: [String: String] = [:]
        for entry in ProcessEnvironmentSnapshot.current() { environment[entry.key] = entry.value }
        let existing = environment["LD_PRELOAD"].map { " " + $0 } ?? ""
        environment["LD_PRELOAD"] = library + existing
        environment["CCTRACE_PRELOAD_OUTPUT"] = dir + "/trace.json"

        // The terminal's Ctrl-C goes to the command; cctrace waits for it and then writes.
        signal(SIGINT, SIG_IGN)
        let argv = command.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGINT)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, command[0], nil, &attributes, argv, envp)
        posix_spawnattr_destroy(&attributes)
        guard rc == 0 else {
            FileError.print("cctrace: error: cannot run \(command[0]): \(String(cString: strerror(rc)))")
            throw ExitCode(127)
        }
        // A stop request sent to cctrace (timeout(1), systemd, `docker stop`: SIGTERM, SIGHUP,
        // SIGQUIT) is passed to the command, whose exit cctrace then waits for and records.
        recordedChild = pid
        for sig in [SIGTERM, SIGHUP, SIGQUIT] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { sig in if recordedChild > 0 { kill(recordedChild, sig) } }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(sig, &action, nil)
        }
        var unblock = sigset_t()
        sigemptyset(&unblock)
        for sig in [SIGTERM, SIGHUP, SIGQUIT] { sigaddset(&unblock, sig) }
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        recordedChild = 0
        let events = try merge(directory: dir, into: output)
        FileError.print("cctrace: wrote \(output) (\(events) events); next: cctrace report \(output)")
        if status & 0x7f == 0 {
            let code = (status >> 8) & 0xff
            if code != 0 { throw ExitCode(code) }
        } else {
            throw ExitCode(128 + (status & 0x7f))
        }
    }

    /// Concatenates the complete event lines of every per-process file into one array-form trace.
    func merge(directory: String, into path: String) throws -> Int {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            FileError.print("cctrace: error: cannot write \(path) (errno \(errno))")
            throw ExitCode(1)
        }
        defer { close(fd) }
        var out: [UInt8] = Array("[\n".utf8)
        var events = 0
        for file in directoryEntries(directory).sorted() {
            guard let bytes = ViewerFiles.readFile(directory + "/" + file) else { continue }
            for line in bytes.split(separator: 10) {
                // Complete events only: a process killed mid-write leaves at most a half line.
                guard line.first == UInt8(ascii: "{"), line.last == UInt8(ascii: ",") else { continue }
                out += line
                out.append(10)
                events += 1
            }
        }
        if out.count > 2, out[out.count - 2] == UInt8(ascii: ",") { out.remove(at: out.count - 2) }
        out += Array("]\n".utf8)
        var written = 0
        while written < out.count {
            let n = out.withUnsafeBytes { write(fd, $0.baseAddress! + written, out.count - written) }
            if n <= 0 { break }
            written += n
        }
        return events
    }

    func directoryEntries(_ path: String) -> [String] {
        guard let d = opendir(path) else { return [] }
        defer { closedir(d) }
        var names: [String] = []
        while let entry = readdir(d) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if !name.hasPrefix(".") { names.append(name) }
        }
        return names
    }

    func removeDirectory(_ path: String) {
        for name in directoryEntries(path) { unlink(path + "/" + name) }
        rmdir(path)
    }
}

/// Finds `libcctrace-preload.so`: `$CCTRACE_PRELOAD`, next to the binary, `<bin>/../lib/cctrace/`,
/// or builds it with `cc` from the checkout's `Sources/CCTracePreload` into
/// `~/.cache/cctrace/` (plain C: the traced processes get no language runtime).
enum PreloadLibrary {
    static func locate() -> String? {
        var candidates: [String] = []
        if let env = getenv("CCTRACE_PRELOAD") { candidates.append(String(cString: env)) }
        if let bin = ViewerFiles.executableDirectory() {
            candidates += [bin + "/libcctrace-preload.so", bin + "/../lib/cctrace/libcctrace-preload.so"]
        }
        if let found = candidates.first(where: { access($0, R_OK) == 0 }) { return absolute(found) }
        return build()
    }

    static func absolute(_ path: String) -> String {
        guard let real = realpath(path, nil) else { return path }
        defer { free(real) }
        return String(cString: real)
    }

    static func build() -> String? {
        let source =
            #filePath.split(separator: "/", omittingEmptySubsequences: false).dropLast(3).joined(separator: "/")
            + "/Sources/CCTracePreload/cctrace_preload.c"
        var st = stat()
        guard stat(source, &st) == 0 else { return nil }
        // The header the shim includes (generated from CCTraceFormat's vocabulary) is part of it.
        var header = stat()
        _ = stat(source.dropLast("cctrace_preload.c".count) + "cctrace_vocabulary.h", &header)
        let home =
            getenv("XDG_CACHE_HOME").map { String(cString: $0) }
            ?? (getenv("HOME").map { String(cString: $0) + "/.cache" } ?? "/tmp")
        let dir = home + "/cctrace"
        mkdir(home, 0o755)
        mkdir(dir, 0o755)
        // One build per version of the source.
        let library =
            "\(dir)/libcctrace-preload-\(st.st_mtim.tv_sec)-\(st.st_size)-\(header.st_mtim.tv_sec)-\(header.st_size).so"
        if access(library, R_OK) == 0 { return library }
        let arguments = ["cc", "-O2", "-shared", "-fPIC", "-o", library, source, "-ldl", "-lpthread"]
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawnp(&pid, "cc", nil, nil, argv, environ) == 0 else { return nil }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return status == 0 && access(library, R_OK) == 0 ? library : nil
    }
}

/// This process's environment.
enum ProcessEnvironmentSnapshot {
    static func current() -> [(key: String, value: String)] {
        var out: [(String, String)] = []
        var p = environ
        while let entry = p.pointee {
            let text = String(cString: entry)
            if let eq = text.firstIndex(of: "=") {
                out.append((String(text[..<eq]), String(text[text.index(after: eq)...])))
            }
            p += 1
        }
        return out
    }
}
