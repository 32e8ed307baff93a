// io-threads — 4 worker threads doing blocking request/response over 4 loopback TCP
// connections to a server (in this process) that answers each request after a fast 1 ms
// lookup. The work is waiting, the waits are few and short: `cctrace report` should recommend
// threads.
// Run: CCTRACE_OUTPUT=out/io-threads.trace.json swift run -c release io-threads
import CCTrace
import SampleSupport

#if canImport(Glibc)
    import Glibc
#endif

let requestsPerClient = 250
let messageSize = 64

/// The server's side of one connection: read a request, look it up (1 ms), reply.
func serveConnection(_ fd: Int32) {
    var request = [UInt8](repeating: 0, count: messageSize)
    while Loopback.read(fd, into: &request, count: messageSize) {
        let reply = CCTrace.withSpan("lookup") { () -> [UInt8] in
            usleep(1_000)
            return request.reversed()
        }
        Loopback.write(fd, reply)
    }
    close(fd)
}

/// A client: blocking request/response on its own connection.
func runClient(port: UInt16, index: Int) {
    let fd = Loopback.connect(port: port)
    var reply = [UInt8](repeating: 0, count: messageSize)
    for i in 0..<requestsPerClient {
        CCTrace.withSpan("request") {
            let request = [UInt8](repeating: UInt8(truncatingIfNeeded: index &+ i), count: messageSize)
            CCTrace.withSpan("send") { Loopback.write(fd, request) }
            _ = CCTrace.withSpan("recv") { Loopback.read(fd, into: &reply, count: messageSize) }
        }
    }
    close(fd)
}

func main() {
    CCTrace.setThreadName("main")
    let (listener, port) = Loopback.listen()
    let server = SampleThread(name: "server") {
        var handlers: [SampleThread] = []
        for n in 0..<4 {
            let fd = accept(listener, nil, nil)
            guard fd >= 0 else { break }
            Loopback.noDelay(fd)
            handlers.append(SampleThread(name: "server-conn-\(n)") { serveConnection(fd) })
        }
        for h in handlers { h.join() }
    }
    let clients = (0..<4).map { i in SampleThread(name: "client-\(i)") { runClient(port: port, index: i) } }
    for c in clients { c.join() }
    server.join()
    close(listener)
    print("io-threads: 4 clients × \(requestsPerClient) requests done")
}

main()
