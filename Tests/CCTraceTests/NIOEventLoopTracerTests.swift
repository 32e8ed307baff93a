import CCTrace
import CCTraceAnalysis
import CCTraceFormat
import CCTraceNIO
import Foundation
import NIOPosix
import Testing

extension RecorderTests {
    @Suite struct NIOEventLoops {
        /// A handler that blocks a NIO loop for 150 ms shows as one long tick on that loop's thread
        /// and as a lag spike on its heartbeat counter.
        @Test func blockedNIOLoopShowsLongTickAndLag() throws {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("nio-\(UUID().uuidString).json")
                .path
            var configuration = TraceConfiguration(outputPath: path)
            configuration.cpuSampleInterval = nil
            try CCTrace.start(configuration)
            let tracer = NIOEventLoopTracer()
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1, metricsDelegate: tracer)
            tracer.startHeartbeats(on: group, every: .milliseconds(10))
            let loop = group.next()
            usleep(50_000)
            _ = try loop.submit { usleep(150_000) }.wait()
            usleep(50_000)
            tracer.stopHeartbeats()
            usleep(20_000)
            try group.syncShutdownGracefully()
            CCTrace.stop()

            let model = try TraceImporter.importTrace(path: path)
            let ticks = model.slices.filter { $0.name == "tick" && $0.category == TraceCategory.loop.rawValue }
            #expect(ticks.count >= 5)
            let longest = try #require(ticks.max { $0.duration < $1.duration })
            #expect(longest.duration.nanoseconds >= 150_000_000)
            #expect(model.threads[longest.thread].name?.hasPrefix("NIO-ELT") == true)
            let lag = try #require(model.counters.first { $0.name.hasPrefix("loop lag NIO-ELT") })
            #expect((lag.points.map(\.1).max() ?? 0) >= 100)
            #expect(lag.points.map(\.1).sorted()[lag.points.count / 2] < 20)
        }
    }
}
