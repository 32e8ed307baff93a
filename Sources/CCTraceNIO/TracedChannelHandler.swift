import CCTrace
import CCTraceFormat
import NIOCore

/// Wraps an inbound handler so the time it holds the event loop is recorded, named after it.
///
/// SwiftNIO's metrics delegate (``NIOEventLoopTracer/processedTick(info:)``) times the task
/// phase of each loop iteration; the I/O phase — where `channelRead` and friends run — falls
/// outside its ticks, so a handler that blocks in `channelRead` left no long tick. Wrapped, each
/// inbound event the handler takes is a callback slice of its loop (category `cctrace.loop`,
/// `args.loop` the loop's thread name) named `channelRead <Handler>`; what the handler passes on
/// with `context.fire…` runs inside it, so wrapped handlers further down nest within, and
/// `blocked-event-loop` names the innermost one that took the time.
///
/// ```swift
/// try channel.pipeline.syncOperations.addHandler(tracer.traced(RequestHandler()))
/// ```
public final class TracedChannelHandler<Handler: ChannelInboundHandler>: ChannelInboundHandler {
    public typealias InboundIn = Handler.InboundIn
    public typealias InboundOut = Handler.InboundOut

    /// The wrapped handler.
    public let handler: Handler
    private let tracer: NIOEventLoopTracer
    private var monitor: EventLoopMonitor?
    private let readName: String
    private let eventName: String

    init(_ handler: Handler, tracer: NIOEventLoopTracer) {
        self.handler = handler
        self.tracer = tracer
        let type = String(describing: Handler.self)
        readName = "channelRead \(type)"
        eventName = "channel event \(type)"
    }

    @inline(__always)
    private func timed(_ name: String, _ context: ChannelHandlerContext, _ body: () -> Void) {
        guard CCTrace.isRecording else { return body() }
        let m = monitor ?? tracer.monitor(for: context.eventLoop)
        monitor = m
        m.callback(name, body)
    }

    public func handlerAdded(context: ChannelHandlerContext) { handler.handlerAdded(context: context) }
    public func handlerRemoved(context: ChannelHandlerContext) { handler.handlerRemoved(context: context) }
    public func channelRegistered(context: ChannelHandlerContext) { handler.channelRegistered(context: context) }
    public func channelUnregistered(context: ChannelHandlerContext) {
        handler.channelUnregistered(context: context)
    }
    public func channelActive(context: ChannelHandlerContext) {
        timed(eventName, context) { handler.channelActive(context: context) }
    }
    public func channelInactive(context: ChannelHandlerContext) {
        timed(eventName, context) { handler.channelInactive(context: context) }
    }
    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        timed(readName, context) { handler.channelRead(context: context, data: data) }
    }
    public func channelReadComplete(context: ChannelHandlerContext) {
        timed(eventName, context) { handler.channelReadComplete(context: context) }
    }
    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        handler.channelWritabilityChanged(context: context)
    }
    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        timed(eventName, context) { handler.userInboundEventTriggered(context: context, event: event) }
    }
    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        timed(eventName, context) { handler.errorCaught(context: context, error: error) }
    }
}

extension NIOEventLoopTracer {
    /// `handler`, wrapped so that the time it holds its event loop is recorded
    /// (``TracedChannelHandler``).
    public func traced<Handler: ChannelInboundHandler>(_ handler: Handler) -> TracedChannelHandler<Handler> {
        TracedChannelHandler(handler, tracer: self)
    }
}
