/// One output stream of a command run by `exec`, between the pipe and the reader that
/// polls it (a pure value: no I/O, no clock).
///
/// Positions are stream offsets: the number of bytes the stream had kept before them. The
/// buffer holds the bytes from `start` to `end` that the reader has not acknowledged; a
/// reader acknowledges by asking from an offset (everything before it is dropped).
/// Bounds: at most `maxKeptBytes` are ever kept (later bytes are counted in `dropped`,
/// so `truncated`), and the pump waits while `isFull` (`maxHeldBytes` unacknowledged).
struct ExecOutputBuffer: Sendable, Equatable {
    let maxKeptBytes: Int
    let maxHeldBytes: Int
    /// The stream offset of `held[0]`.
    private(set) var start: UInt64 = 0
    private(set) var held: [UInt8] = []
    /// Bytes read from the pipe after `maxKeptBytes` were kept.
    private(set) var dropped: UInt64 = 0

    init(maxKeptBytes: Int = AgentLimits.maxExecOutputBytes, maxHeldBytes: Int = AgentLimits.maxExecChunkBytes) {
        self.maxKeptBytes = maxKeptBytes
        self.maxHeldBytes = maxHeldBytes
    }

    /// The offset after the last byte kept.
    var end: UInt64 { start + UInt64(held.count) }
    var truncated: Bool { dropped > 0 }
    /// The reader has this much to fetch: the pipe should wait.
    var isFull: Bool { held.count >= maxHeldBytes }

    /// Keeps what fits under `maxKeptBytes`, counts the rest as dropped.
    mutating func append(_ bytes: [UInt8]) {
        let room = max(0, maxKeptBytes - Int(end))
        held += bytes.prefix(room)
        dropped += UInt64(bytes.count - min(room, bytes.count))
    }

    /// Drops every byte before `offset` (the reader has them).
    mutating func acknowledge(upTo offset: UInt64) {
        let upTo = min(max(offset, start), end)
        held.removeFirst(Int(upTo - start))
        start = upTo
    }

    /// At most `maxBytes` from `offset` (from `start` when the offset was dropped already,
    /// to `end` when it is past it), and the offset after them. Unless `final` (the stream
    /// has ended), a UTF-8 character whose bytes have not all arrived is left for the next
    /// read, so each answer decodes as text on its own.
    func read(from offset: UInt64, maxBytes: Int, final: Bool) -> (bytes: [UInt8], next: UInt64) {
        let from = min(max(offset, start), end)
        let lower = Int(from - start)
        let upper = min(held.count, lower + max(0, maxBytes))
        var slice = held[lower ..< upper]
        if !(final && upper == held.count) {
            slice = slice.prefix(Self.completeUTF8Length(slice))
        }
        return (Array(slice), from + UInt64(slice.count))
    }

    /// The length of `bytes` without a trailing UTF-8 sequence that is cut short (its lead
    /// byte says more bytes follow than there are). Bytes that are not UTF-8 at all are
    /// kept as they are: only a cut sequence, at most 3 bytes, is held back.
    static func completeUTF8Length(_ bytes: ArraySlice<UInt8>) -> Int {
        let count = bytes.count
        var back = 1
        while back <= min(4, count) {
            let byte = bytes[bytes.startIndex + count - back]
            if byte & 0xC0 != 0x80 {
                let needed = byte & 0x80 == 0 ? 1 : byte & 0xE0 == 0xC0 ? 2 : byte & 0xF0 == 0xE0 ? 3 : byte & 0xF8 == 0xF0 ? 4 : 1
                return back < needed ? count - back : count
            }
            back += 1
        }
        return count
    }
}
