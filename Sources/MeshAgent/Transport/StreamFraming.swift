import MeshWire
import NIOCore

/// Splits a TCP byte stream into frames prefixed by their length (4 bytes, big-endian),
/// refusing any frame longer than `WireLimits.maxStreamFrameBytes` before buffering it.
struct LengthPrefixedFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer
    static let prefixBytes = 4

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return .needMoreData }
        guard Int(length) <= WireLimits.maxStreamFrameBytes else {
            throw StreamFrameError.tooLarge(size: Int(length), limit: WireLimits.maxStreamFrameBytes)
        }
        guard buffer.readableBytes >= Self.prefixBytes + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: Self.prefixBytes)
        context.fireChannelRead(wrapInboundOut(buffer.readSlice(length: Int(length))!))
        return .continue
    }

    /// The bytes to write for one frame.
    static func frame(_ bytes: [UInt8], allocator: ByteBufferAllocator) -> ByteBuffer {
        var out = allocator.buffer(capacity: prefixBytes + bytes.count)
        out.writeInteger(UInt32(bytes.count))
        out.writeBytes(bytes)
        return out
    }
}

/// Why a stream exchange failed.
enum StreamFrameError: Error, CustomStringConvertible {
    case tooLarge(size: Int, limit: Int)
    case closedWithoutReply
    case timedOut(Duration)
    case tooManyConnections(limit: Int)

    var description: String {
        switch self {
        case let .tooLarge(size, limit): "stream frame of \(size) bytes exceeds the limit of \(limit)"
        case .closedWithoutReply: "the peer closed the connection without a reply"
        case let .timedOut(d): "no reply within \(d)"
        case let .tooManyConnections(limit): "more than \(limit) inbound mesh connections at once; this one was refused"
        }
    }
}
