// async-connections — 1,000 concurrent loopback connections whose server replies slowly
// (after 1 s), handled with Swift concurrency over SwiftNIO: one task per connection, all in
// flight at once, on two event-loop threads. The work is almost all waiting, and there is a lot
// of it at the same time: `cctrace report` should recommend async.
// Run: CCTRACE_OUTPUT=out/async-connections.trace.json swift run -c release async-connections
import CCTrace
import CCTraceNIO
import NIOCore
import NIOPosix
import SampleSupport

let connections = 1_000
let replyDelay = TimeAmount.milliseconds(1_000)

/// Server side: answers each request after `replyDelay`, without blocking the loop.
final class SlowReplyHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let request = unwrapInboundIn(data)
        let channel = context.channel
        context.eventLoop.scheduleTask(in: replyDelay) {
            channel.writeAndFlush(request, promise: nil)
        }
    }
}

/// Client side: completes `reply` when the answer arrives.
final class ReplyHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let reply: EventLoopPromise<Void>

    init(reply: EventLoopPromise<Void>) { self.reply = reply }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) { reply.succeed(()) }
    func errorCaught(context: ChannelHandlerContext, error: any Error) { reply.fail(error) }
}

/// One connection: arrive (clients trickle in over ~300 ms), connect, send a request, await
/// the slow reply, close.
func request(_ n: Int, port: Int, group: MultiThreadedEventLoopGroup) async throws {
    try await Task.sleep(for: .microseconds(300 * n))
    let loop = group.next()
    let reply = loop.makePromise(of: Void.self)
    let channel = try await ClientBootstrap(group: loop)
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(ReplyHandler(reply: reply))
            }
        }
        .connect(host: "127.0.0.1", port: port).get()
    var buffer = channel.allocator.buffer(capacity: 16)
    buffer.writeString("request \(n)\n")
    try await channel.writeAndFlush(buffer).get()
    try await reply.futureResult.get()
    try await channel.close().get()
}

func run() async throws {
    CCTrace.setThreadName("main")
    let limit = raiseOpenFileLimit()
    precondition(limit >= 2 * connections + 64, "open-file limit \(limit) is too low for \(connections) connections")
    let tracer = NIOEventLoopTracer()
    let serverGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1, metricsDelegate: tracer)
    let clientGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1, metricsDelegate: tracer)
    tracer.startHeartbeats(on: serverGroup, every: .milliseconds(10))
    tracer.startHeartbeats(on: clientGroup, every: .milliseconds(10))
    let server = try await ServerBootstrap(group: serverGroup)
        .serverChannelOption(ChannelOptions.backlog, value: 2048)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(SlowReplyHandler())
            }
        }
        .bind(host: "127.0.0.1", port: 0).get()
    let port = server.localAddress!.port!
    let tasks = (0..<connections).map { n in
        CCTrace.task("connection") { try await request(n, port: port, group: clientGroup) }
    }
    var done = 0
    for task in tasks {
        try await task.value
        done += 1
    }
    try await server.close().get()
    tracer.stopHeartbeats()
    try await clientGroup.shutdownGracefully()
    try await serverGroup.shutdownGracefully()
    print("async-connections: \(done) connections answered")
}

try await run()
