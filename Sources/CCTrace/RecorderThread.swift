#if canImport(Glibc)
    import Glibc
#endif

/// Starts a pthread running `body` (the recorder's own threads: the writer, the task pool's
/// workers and heartbeat). Returns the thread, or `nil` when it could not be created. Detached
/// threads must not be joined.
func startRecorderThread(detached: Bool, _ body: @escaping () -> Void) -> pthread_t? {
    final class Start {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }
    let box = Unmanaged.passRetained(Start(body))
    var thread = pthread_t()
    let rc = pthread_create(
        &thread, nil,
        { arg in
            Unmanaged<Start>.fromOpaque(arg!).takeRetainedValue().body()
            return nil
        }, box.toOpaque())
    guard rc == 0 else {
        box.release()
        return nil
    }
    if detached { pthread_detach(thread) }
    return thread
}
