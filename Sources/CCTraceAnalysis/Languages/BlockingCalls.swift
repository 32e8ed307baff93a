/// Names of calls that wait, by what they wait for — the union of what each language's
/// runtime calls them (``POSIXCalls``, ``CPython``, ``SwiftRuntime``). Adding a language adds
/// a table here; the classifier and the accounting do not change.
struct BlockingCalls: Sendable {
    /// Waiting for a result or for work to arrive (join, condition waits, queue get): idle.
    var result: Set<String> = []
    /// Moving data between processes.
    var ipc: Set<String> = []
    /// Acquiring a lock (the acquiring side only).
    var lock: Set<String> = []
    /// Blocking I/O and sleeps standing in for it.
    var io: Set<String> = []
    /// Socket methods (matched when the owner is a socket).
    var socket: Set<String> = []

    func merged(_ other: BlockingCalls) -> BlockingCalls {
        BlockingCalls(
            result: result.union(other.result), ipc: ipc.union(other.ipc), lock: lock.union(other.lock),
            io: io.union(other.io), socket: socket.union(other.socket))
    }

    /// Every language's names.
    static let known = POSIXCalls.calls.merged(CPython.calls).merged(SwiftRuntime.calls)
}

/// The C library's blocking calls, as `cctrace record`'s shim and native profilers name them.
enum POSIXCalls {
    static let calls = BlockingCalls(
        result: [
            "pthread_join", "waitpid", "wait4", "waitid", "pthread_cond_wait", "pthread_cond_timedwait", "sem_wait",
            "sem_timedwait", "sem_clockwait",
        ],
        lock: [
            "pthread_mutex_lock", "pthread_rwlock_rdlock", "pthread_rwlock_wrlock", "pthread_spin_lock", "futex_lock",
        ],
        io: [
            "sleep", "nanosleep", "usleep", "clock_nanosleep", "read", "write", "pread", "pwrite", "readv", "writev",
            "recv", "recvfrom", "recvmsg", "send", "sendto", "sendmsg", "accept", "accept4", "connect", "select",
            "poll", "ppoll", "epoll_wait", "epoll_pwait", "getaddrinfo", "fsync", "fdatasync", "fread", "fwrite",
            "fgets", "getline",
        ])

    /// The calls an event loop waits in for its descriptors.
    static let pollCalls: Set<String> = ["epoll_wait", "epoll_pwait", "poll", "ppoll", "select"]

    /// Whether a lock (as the shim names it) is a file lock: flock or fcntl record locks,
    /// named by the file.
    static func isFileLock(_ name: String) -> Bool { name.hasPrefix("flock ") || name.hasPrefix("fcntl lock ") }

    /// Calls a thread makes when it has nothing to do: polls and sleeps.
    static let idleCalls: Set<String> = pollCalls.union(["nanosleep", "clock_nanosleep", "usleep", "sleep"])
}
