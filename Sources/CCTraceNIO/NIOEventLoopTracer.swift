import CCTrace
import CCTraceFormat
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Records each SwiftNIO event-loop tick as a slice and each loop's lag as a counter.
///
/// Pass it as the `metricsDelegate` of a `MultiThreadedEventLoopGroup` and start its heartbeats:
///
/// ```swift
/// let tracer = NIOEventLoopTracer()
/// let group = MultiThreadedEventLoopGroup(numberOfThreads: 2, metricsDelegate: tracer)
/// tracer.startHeartbeats(on: group)
/// ```
///
/// What is recorded (category `cctrace.loop`): a slice `tick` per tick on the loop's thread
/// (`args.loop`: the thread's name, e.g. `NIO-ELT-0-#0`), and per loop the counter
/// `loop lag <thread name>` (`args.lag_ms`) from a heartbeat task scheduled every interval. A
/// task that blocks the loop shows as one long tick and a lag spike. NIO's ticks cover the task
/// phase only: wrap handlers with ``traced(_:)`` to time `channelRead` and friends, which run in
/// the I/O phase.
public final class NIOEventLoopTracer: NIOEventLoopMetricsDelegate, Sendable {
    private let monitors = Mutex<[ObjectIdentifier: EventLoopMonitor]>([:])
    private let heartbeats = Mutex<[EventLoopMonitor]>([])

    /// A tracer; one can serve several groups.
    public init() {}

    /// Called by NIO on the loop's thread after every tick.
    public func processedTick(info: NIOEventLoopTickInfo) {
        guard CCTrace.isRecording else { return }
        // NIO's deadlines need not be on CLOCK_MONOTONIC: anchor the tick at "now" (the tick just
        // ended) and keep NIO's measured length.
        let length = max(0, info.endTime.uptimeNanoseconds &- info.startTime.uptimeNanoseconds)
        let end = Self.monotonicNow()
        let monitor = self.monitor(for: info.eventLoopID)
        monitor.record(TraceVocabulary.Event.tick.string, startNanoseconds: end - Int64(length), endNanoseconds: end)
    }

    /// Schedules a heartbeat on every loop of `group`; its lateness is the loop's lag.
    public func startHeartbeats(on group: any EventLoopGroup, every interval: Duration = .milliseconds(10)) {
        for loop in group.makeIterator() {
            let id = ObjectIdentifier(loop as AnyObject)
            // Name the loop after its thread: ask the loop itself.
            let name = (try? loop.submit { Self.threadName() }.wait()) ?? "nio"
            let monitor = monitors.withLock { table in
                if let m = table[id] { return m }
                let m = EventLoopMonitor(name: name)
                table[id] = m
                return m
            }
            heartbeats.withLock { $0.append(monitor) }
            monitor.startHeartbeat(every: interval) { delay, beat in
                let ns = delay.components.seconds * 1_000_000_000 + delay.components.attoseconds / 1_000_000_000
                loop.scheduleTask(in: .nanoseconds(ns)) { beat() }
            }
        }
    }

    /// Stops the heartbeats (each after its next beat).
    public func stopHeartbeats() {
        heartbeats.withLock { list in
            for m in list { m.stopHeartbeat() }
            list.removeAll()
        }
    }

    /// The monitor of `loop` (the one its ticks and heartbeat use), called on the loop's thread.
    func monitor(for loop: any EventLoop) -> EventLoopMonitor {
        monitor(for: ObjectIdentifier(loop as AnyObject))
    }

    private func monitor(for id: ObjectIdentifier) -> EventLoopMonitor {
        monitors.withLock { table in
            if let m = table[id] { return m }
            let m = EventLoopMonitor(name: Self.threadName())
            table[id] = m
            return m
        }
    }

    /// The calling thread's name (NIO names its loop threads `NIO-ELT-…`).
    private static func threadName() -> String {
        let fd = open("/proc/thread-self/comm", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return "nio" }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
        guard n > 0 else { return "nio" }
        return String(decoding: buffer[..<n].prefix { $0 != 0x0A }, as: UTF8.self)
    }

    private static func monotonicNow() -> Int64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
    }
}
