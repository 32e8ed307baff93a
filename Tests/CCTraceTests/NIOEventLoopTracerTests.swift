import CCTrace
import CCTraceAnalysis
import CCTraceFormat
import CCTraceNIO
import Foundation
import NIOCore
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

        /// A handler that blocks in `channelRead` runs in NIO's I/O phase, outside the ticks the
        /// metrics delegate times: wrapped with `traced`, its time is a loop callback named after
        /// it, and the analysis names it as what blocked the loop.
        @Test func blockingChannelReadIsNamed() throws {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent(
                "nio-read-\(UUID().uuidString).json"
            )
            .path
            var configuration = TraceConfiguration(outputPath: path)
            configuration.cpuSampleInterval = nil
            try CCTrace.start(configuration)
            let tracer = NIOEventLoopTracer()
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1, metricsDelegate: tracer)
            tracer.startHeartbeats(on: group, every: .milliseconds(10))
            let server = try ServerBootstrap(group: group)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(tracer.traced(SlowEchoHandler()))
                    }
                }
                .bind(host: "127.0.0.1", port: 0).wait()
            let client = try ClientBootstrap(group: group).connect(to: server.localAddress!).wait()
            var buffer = client.allocator.buffer(capacity: 8)
            buffer.writeString("ping")
            try client.writeAndFlush(buffer).wait()
            usleep(400_000)
            try client.close().wait()
            try server.close().wait()
            tracer.stopHeartbeats()
            usleep(20_000)
            try group.syncShutdownGracefully()
            CCTrace.stop()

            let model = try TraceImporter.importTrace(path: path)
            let reads = model.slices.filter {
                $0.name == "channelRead SlowEchoHandler" && $0.category == TraceCategory.loop.rawValue
            }
            let longest = try #require(reads.max { $0.duration < $1.duration }, "\(Set(model.slices.map(\.name)))")
            #expect(longest.duration.nanoseconds >= 150_000_000)
            #expect(model.threads[longest.thread].name?.hasPrefix("NIO-ELT") == true)
            let report = AnalysisReport(model: model)
            let blocked = report.findings.filter { $0.id == "blocked-event-loop" && $0.severity == .warning }
            #expect(
                blocked.contains { $0.summary.contains("channelRead SlowEchoHandler") },
                "\(report.findings.map(\.summary))")
        }
    }
}

/// Echoes what it reads after blocking its event loop for 150 ms.
final class SlowEchoHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        usleep(150_000)
        context.writeAndFlush(data, promise: nil)
    }
}
