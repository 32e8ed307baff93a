import CCTrace
import CCTraceAnalysis
import CCTraceFormat
import Foundation
import Testing

extension RecorderTests {
    @Suite struct CustomIPC {
        /// An app's own transport (here a socket pair between two threads) recorded with
        /// IPCTrace yields the same model as a TracedChannel: spans with bytes and a flow.
        @Test func ownTransportRecordsTheSameFacts() throws {
            var fds: [Int32] = [0, 0]
            #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
            defer { fds.forEach { close($0) } }
            let (sender, receiver) = (fds[0], fds[1])
            let (model, _) = try recordAndImport {
                let done = DispatchSemaphore(value: 0)
                Thread {
                    let start = IPCTrace.now()
                    var header = [UInt8](repeating: 0, count: 12)
                    _ = read(receiver, &header, 12)
                    let length = Int(header[0]) | Int(header[1]) << 8
                    let flow = header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 4, as: UInt64.self) }
                    var body = [UInt8](repeating: 0, count: length)
                    _ = read(receiver, &body, length)
                    IPCTrace.receive(channel: "custom", bytes: length, flowID: flow, waitingSince: start)
                    let sum = IPCTrace.deserialize(channel: "custom", bytes: length) { body.reduce(0) { $0 + Int($1) } }
                    #expect(sum == 300)
                    done.signal()
                }.start()
                let payload = IPCTrace.serialize(channel: "custom") { [UInt8](repeating: 3, count: 100) }
                IPCTrace.send(channel: "custom", bytes: payload.count) { flow in
                    var frame = [UInt8](repeating: 0, count: 4)
                    frame[0] = UInt8(payload.count)
                    withUnsafeBytes(of: flow) { frame.append(contentsOf: $0) }
                    frame.append(contentsOf: payload)
                    _ = write(sender, frame, frame.count)
                }
                done.wait()
            }
            #expect(model.ipcMessages.count == 1)
            #expect(model.ipcMessages.first?.bytes == 100)
            #expect(model.ipcMessages.first?.channel == "custom")
            for name in ["serialize custom", "send custom", "receive custom", "deserialize custom"] {
                #expect(
                    model.slices.contains { $0.name == name && $0.category == TraceCategory.ipc.rawValue }, "\(name)")
            }
            let flow = try #require(model.flows.first)
            #expect(flow.from.thread != flow.to.thread)
        }
    }
}
