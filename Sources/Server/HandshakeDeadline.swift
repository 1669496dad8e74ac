import IntegraProtocol
import NIOCore

/// Closes a connection whose TLS handshake and first frame have not both arrived within the
/// handshake timeout (defence against connections opened and left silent or dribbling).
/// Sits after the frame decoder; the first frame disarms it.
final class HandshakeDeadline: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let timeout: TimeAmount
    private var scheduled: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        self.scheduled = context.eventLoop.scheduleTask(in: self.timeout) {
            // Before the TLS handshake completes, nothing can be answered: close.
            bound.value.fireErrorCaught(ProtocolError(.timeout, "the handshake was not completed in time"))
            bound.value.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if let scheduled = self.scheduled {
            scheduled.cancel()
            self.scheduled = nil
        }
        context.fireChannelRead(data)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.scheduled?.cancel()
    }
}
