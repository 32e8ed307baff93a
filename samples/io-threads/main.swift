// io-threads — 4 worker threads doing blocking request/response over 4 loopback TCP
// connections to a server that answers each request after a fast 1 ms lookup. The server runs
// in a child process that is not traced (a stand-in for a remote service: the trace sees it
// only as the clients' waits). The work is waiting, the waits are few and short: `cctrace
// report` should recommend threads.
// `--model sequential|threads|async` sends the same 4 × 250 requests from one thread (one
// connection after another), from 4 threads (the default), or from one SwiftNIO event loop
// with the 4 connections in flight at once, and prints the wall time (`make whatif`).
// Run: CCTRACE_OUTPUT=out/io-threads.trace.json swift run -c release io-threads
import CCTrace
import NIOCore
import NIOPosix
import SampleSupport

#if canImport(Glibc)
    import Glibc
#endif

let clients = 4
let requestsPerClient = 250
let messageSize = 64

/// The server's side of one connection: read a request, look it up (1 ms), reply.
func serveConnection(_ fd: Int32) {
    var request = [UInt8](repeating: 0, count: messageSize)
    while Loopback.read(fd, into: &request, count: messageSize) {
        usleep(1_000)
        Loopback.write(fd, request.reversed())
    }
    close(fd)
}

/// The server process: a thread per connection on the inherited listening socket.
func runServer(listener: Int32) {
    var handlers: [SampleThread] = []
    for _ in 0..<clients {
        let fd = accept(listener, nil, nil)
        guard fd >= 0 else { break }
        Loopback.noDelay(fd)
        handlers.append(SampleThread(name: "server-conn") { serveConnection(fd) })
    }
    for h in handlers { h.join() }
}

/// Blocking request/response on connection `fd`: `requestsPerClient` of them.
func runRequests(fd: Int32, index: Int) {
    var reply = [UInt8](repeating: 0, count: messageSize)
    for i in 0..<requestsPerClient {
        CCTrace.withSpan("request") {
            let request = [UInt8](repeating: UInt8(truncatingIfNeeded: index &+ i), count: messageSize)
            CCTrace.withSpan("send") { Loopback.write(fd, request) }
            _ = CCTrace.withSpan("recv") { Loopback.read(fd, into: &reply, count: messageSize) }
        }
    }
}

/// One connection driven by the event loop: the next request when the last reply is in.
final class RequestLoop: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let index: Int
    let done: EventLoopPromise<Void>
    var sent = 0
    var pending = 0

    init(index: Int, done: EventLoopPromise<Void>) {
        self.index = index
        self.done = done
    }

    func send(_ context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: messageSize)
        buffer.writeRepeatingByte(UInt8(truncatingIfNeeded: index &+ sent), count: messageSize)
        sent += 1
        pending = messageSize
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    func channelActive(context: ChannelHandlerContext) { send(context) }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        pending -= unwrapInboundIn(data).readableBytes
        guard pending <= 0 else { return }
        if sent < requestsPerClient {
            send(context)
        } else {
            context.close(promise: nil)
            done.succeed(())
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { done.fail(error) }
}

func runAsync(port: UInt16) throws {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let loop = group.next()
    var done: [EventLoopFuture<Void>] = []
    for index in 0..<clients {
        let promise = loop.makePromise(of: Void.self)
        done.append(promise.futureResult)
        _ = ClientBootstrap(group: loop)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RequestLoop(index: index, done: promise))
                }
            }
            .connect(host: "127.0.0.1", port: Int(port))
    }
    for f in done { try f.wait() }
    try group.syncShutdownGracefully()
}

func main() throws {
    let arguments = CommandLine.arguments
    if arguments.count == 3, arguments[1] == "server", let fd = Int32(arguments[2]) { return runServer(listener: fd) }
    CCTrace.setThreadName("main")
    let model = SampleModel.fromArguments(default: .threads, offered: [.sequential, .threads, .async])
    let (listener, port) = Loopback.listen()
    let server = spawnUntracedSelf(arguments: ["server", "\(listener)"])
    let start = monotonicNanoseconds()
    switch model {
    case .sequential:
        let fds = (0..<clients).map { _ in Loopback.connect(port: port) }
        for (i, fd) in fds.enumerated() { runRequests(fd: fd, index: i) }
        for fd in fds { close(fd) }
    case .async:
        try runAsync(port: port)
    default:
        let threads = (0..<clients).map { i in
            SampleThread(name: "client-\(i)") {
                let fd = Loopback.connect(port: port)
                runRequests(fd: fd, index: i)
                close(fd)
            }
        }
        for t in threads { t.join() }
    }
    printWallTime(since: start, model: model)
    var status: Int32 = 0
    waitpid(server, &status, 0)
    close(listener)
    print("io-threads: \(clients) connections × \(requestsPerClient) requests done")
}

try main()
