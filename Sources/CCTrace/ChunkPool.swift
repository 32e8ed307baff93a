import CCTraceNative
import Synchronization

/// The memory behind every thread buffer: fixed-size chunks handed out under a byte limit.
///
/// A recording thread takes a chunk once per ``eventsPerChunk`` events, so the pool's lock is
/// off the per-span path. Chunks are never returned to the system while the process lives; a
/// stopped session's chunks are reused by the next one.
final class ChunkPool: Sendable {
    /// Events per chunk (32 bytes each).
    static let eventsPerChunk = 2048
    /// Bytes per chunk for `args` and other variable-length payloads.
    static let arenaBytes = 16 << 10
    private static let headerBytes = 64
    /// Bytes one chunk occupies.
    static let chunkBytes = headerBytes + eventsPerChunk * MemoryLayout<cctrace_event>.size + arenaBytes

    /// A chunk address; chunks move between threads only through the pool and the writer.
    private struct FreeChunk: @unchecked Sendable {
        let pointer: UnsafeMutablePointer<cctrace_chunk>
    }

    private struct State {
        var free: [FreeChunk] = []
        /// Chunks handed out and not yet released.
        var inUse = 0
        var limit = 0
    }
    private let state = Mutex(State())
    /// Chunks that could still be handed out; read without the lock so a thread that is
    /// dropping events does not take the lock for every event.
    private let available = Atomic<Int>(0)

    static let shared = ChunkPool()

    /// Sets the byte limit for the session that is starting; free chunks beyond it are returned
    /// to the system.
    func setLimit(bytes: Int) {
        let chunks = max(bytes / Self.chunkBytes, 2)
        state.withLock { s in
            s.limit = chunks
            while s.free.count > max(0, chunks - s.inUse), let extra = s.free.popLast() {
                UnsafeMutableRawPointer(extra.pointer).deallocate()
            }
            available.store(max(0, chunks - s.inUse), ordering: .relaxed)
        }
    }

    /// True when ``acquire()`` might succeed.
    var mightHaveChunks: Bool { available.load(ordering: .relaxed) > 0 }

    /// A cleared chunk, or `nil` when the limit is reached.
    func acquire() -> UnsafeMutablePointer<cctrace_chunk>? {
        let chunk: UnsafeMutablePointer<cctrace_chunk>? = state.withLock { s -> FreeChunk? in
            guard s.inUse < s.limit else { return nil }
            s.inUse += 1
            available.store(s.limit - s.inUse, ordering: .relaxed)
            return s.free.popLast() ?? FreeChunk(pointer: Self.allocateChunk())
        }?.pointer
        guard let chunk else { return nil }
        chunk.pointee.committed = 0
        chunk.pointee.next = nil
        chunk.pointee.arena_used = 0
        return chunk
    }

    /// Gives a chunk back; nobody may touch it afterwards.
    func release(_ chunk: UnsafeMutablePointer<cctrace_chunk>) {
        let chunk = FreeChunk(pointer: chunk)
        state.withLock { s in
            s.inUse -= 1
            if s.free.count + s.inUse < s.limit {
                s.free.append(chunk)
            } else {
                UnsafeMutableRawPointer(chunk.pointer).deallocate()
            }
            available.store(max(0, s.limit - s.inUse), ordering: .relaxed)
        }
    }

    private static func allocateChunk() -> UnsafeMutablePointer<cctrace_chunk> {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: chunkBytes, alignment: 64)
        let chunk = raw.bindMemory(to: cctrace_chunk.self, capacity: 1)
        let events = (raw + headerBytes).bindMemory(to: cctrace_event.self, capacity: eventsPerChunk)
        let arena = (raw + headerBytes + eventsPerChunk * MemoryLayout<cctrace_event>.size)
            .bindMemory(to: UInt8.self, capacity: arenaBytes)
        chunk.initialize(
            to: cctrace_chunk(
                committed: 0, next: nil, capacity: UInt32(eventsPerChunk),
                arena_capacity: UInt32(arenaBytes), arena_used: 0, reserved: 0,
                events: events, arena: arena))
        return chunk
    }
}
