import Foundation
@testable import Supervisor
import Testing

/// Reading a rotated stream by cursor (what `logs -f` from another node does): nothing
/// repeated, nothing missed across rotations, a gap reported when output was rotated away.
struct LogChunkTests {
    /// A stream's files written through `RotatingLogFile`, in a fresh folder.
    final class Stream {
        let dir = NSTemporaryDirectory() + "logchunk-\(UUID().uuidString)"
        let file: RotatingLogFile
        var base: String { file.path }

        init(maxFileBytes: Int, maxFiles: Int) throws {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            file = RotatingLogFile(path: dir + "/stdout.log", maxFileBytes: maxFileBytes, maxFiles: maxFiles)
        }

        func write(_ text: String) {
            let failure = Array(text.utf8).withUnsafeBytes { file.write($0) }
            #expect(failure == nil)
        }

        deinit { try? FileManager.default.removeItem(atPath: dir) }
    }

    /// Reads everything after `cursor` in chunks of `chunk` bytes.
    func drain(_ s: Stream, from cursor: LogCursor, maxFiles: Int, chunk: Int) -> (String, LogCursor, Bool) {
        var text = "", next = cursor, gap = false
        for _ in 0 ..< 10_000 {
            let c = LogChunks.read(base: s.base, maxFiles: maxFiles, from: next, maxBytes: chunk)
            gap = gap || c.gap
            next = c.next
            if c.data.isEmpty { break }
            text += String(decoding: c.data, as: UTF8.self)
        }
        return (text, next, gap)
    }

    @Test func followingFromATailCursorSeesEveryLaterByteOnceAcrossRotations() throws {
        let s = try Stream(maxFileBytes: 100, maxFiles: 4)
        s.write("a1\na2\na3\n")
        let tail = LogChunks.tail(base: s.base, maxFiles: 4, lines: 2, maxBytes: 1000)
        #expect(String(decoding: tail.data, as: UTF8.self) == "a2\na3\n")
        // 60 lines of 4 bytes: 240 bytes, so the live file rotates twice while we are away.
        let later = (10 ..< 70).map { "b\($0)\n" }.joined()
        s.write(later)
        let (text, next, gap) = drain(s, from: tail.next, maxFiles: 4, chunk: 7)
        #expect(text == later)
        #expect(!gap)
        s.write("c1\n")
        let (more, _, _) = drain(s, from: next, maxFiles: 4, chunk: 1000)
        #expect(more == "c1\n")
    }

    @Test func aCursorOlderThanTheOldestByteKeptResumesThereAndSaysWhere() throws {
        let s = try Stream(maxFileBytes: 9, maxFiles: 2)   // one 9-byte line per file
        s.write("01234567\nx1234567\ny1234567\nz1234567\n")
        // Bytes 0-17 were rotated away; .1 holds 18-26, the live file 27-35.
        let c = LogChunks.read(base: s.base, maxFiles: 2, from: LogCursor(offset: 5), maxBytes: 100)
        #expect(c.resumedAt == LogCursor(offset: 18))
        #expect(String(decoding: c.data, as: UTF8.self) == "y1234567\nz1234567\n")
        #expect(c.next == LogCursor(offset: 36))
    }

    /// The bug this numbering fixes: a follower far behind used to hold an inode, which the
    /// file system may give to a newer file of the stream; it then read that file at its old
    /// offset without noticing. A stream offset cannot be reused, so whatever the inodes,
    /// a lagging cursor is recognised and resumes at the oldest byte kept.
    @Test func aFollowerFarBehindIsToldExactlyWhatWasLost() throws {
        let s = try Stream(maxFileBytes: 100, maxFiles: 3)
        s.write("first ---\n")
        let tail = LogChunks.tail(base: s.base, maxFiles: 3, lines: 1, maxBytes: 100)
        #expect(tail.next == LogCursor(offset: 10))
        // 1,000 lines of 10 bytes, 10 to a file: the live file holds the last line, .1 and .2
        // the 20 before it; the 210 bytes before the stream's end are all that is kept.
        let lines = (0 ..< 1000).map { String(format: "line %04d\n", $0) }
        s.write(lines.joined())
        let total = UInt64(10 + 10_000)
        let (text, next, gap) = drain(s, from: tail.next, maxFiles: 3, chunk: 64)
        #expect(gap)
        #expect(next == LogCursor(offset: total))
        #expect(text == lines.suffix(21).joined())
        let first = LogChunks.read(base: s.base, maxFiles: 3, from: tail.next, maxBytes: 10)
        #expect(first.resumedAt == LogCursor(offset: total - 210))
        #expect(String(decoding: first.data, as: UTF8.self) == "line 0979\n")
    }

    @Test func offsetsContinueAcrossAWriterRestart() throws {
        let s = try Stream(maxFileBytes: 10, maxFiles: 3)
        s.write("aaaa\nbbbb\ncccc\n")   // rotates once: .1 = aaaa bbbb, live = cccc
        let cursor = LogChunks.tail(base: s.base, maxFiles: 3, lines: 1, maxBytes: 100).next
        #expect(cursor == LogCursor(offset: 15))
        s.file.close()
        // A new agent opens the same files: it continues their numbering.
        let again = RotatingLogFile(path: s.base, maxFileBytes: 10, maxFiles: 3)
        let more = Array("dddd\neeee\nffff\n".utf8)
        #expect(more.withUnsafeBytes { again.write($0) } == nil)
        #expect(again.end == 30)
        let (text, next, gap) = drain(s, from: cursor, maxFiles: 3, chunk: 4)
        #expect(text == "dddd\neeee\nffff\n" && !gap)
        #expect(next == LogCursor(offset: 30))
    }

    @Test func anIndexOneRotationBehindIsCorrectedByTheRotatedFilesInode() throws {
        let s = try Stream(maxFileBytes: 10, maxFiles: 3)
        s.write("aaaa\nbbbb\n")           // live = aaaa bbbb, start 0
        let index = LogOffsets.indexPath(base: s.base)
        let before = try String(contentsOfFile: index, encoding: .utf8)
        s.write("cccc\n")                  // rotates: .1 = aaaa bbbb, live = cccc, start 10
        // As if the agent died between the rotation's renames and the index update.
        try before.write(toFile: index, atomically: true, encoding: .utf8)
        let files = LogOffsets.layout(base: s.base, maxFiles: 3)
        #expect(files.map(\.start) == [0, 10])
        let c = LogChunks.read(base: s.base, maxFiles: 3, from: LogCursor(offset: 12), maxBytes: 100)
        #expect(String(decoding: c.data, as: UTF8.self) == "cc\n" && !c.gap)
    }

    @Test func aCursorPastTheEndOfAStreamStartedAnewResumesAtItsStart() throws {
        let s = try Stream(maxFileBytes: 100, maxFiles: 2)
        s.write("old output\n")
        let cursor = LogChunks.tail(base: s.base, maxFiles: 2, lines: 1, maxBytes: 100).next
        s.file.close()
        // The instance's logs were deleted and it was started again.
        for path in [s.base, LogOffsets.indexPath(base: s.base)] { unlink(path) }
        let fresh = RotatingLogFile(path: s.base, maxFileBytes: 100, maxFiles: 2)
        #expect(Array("new\n".utf8).withUnsafeBytes { fresh.write($0) } == nil)
        let c = LogChunks.read(base: s.base, maxFiles: 2, from: cursor, maxBytes: 100)
        #expect(c.resumedAt == .beginning)
        #expect(String(decoding: c.data, as: UTF8.self) == "new\n")
    }

    @Test func aTailIsBoundedByMaxBytesAndStartsOnALineBoundary() throws {
        let s = try Stream(maxFileBytes: 1 << 20, maxFiles: 2)
        s.write((0 ..< 100).map { "line \($0)\n" }.joined())
        let c = LogChunks.tail(base: s.base, maxFiles: 2, lines: 100, maxBytes: 30)
        let text = String(decoding: c.data, as: UTF8.self)
        #expect(text == "line 97\nline 98\nline 99\n")
        #expect(LogChunks.read(base: s.base, maxFiles: 2, from: c.next, maxBytes: 100).data.isEmpty)
    }

    @Test func theBeginningCursorReadsTheOldestFileFirst() throws {
        let s = try Stream(maxFileBytes: 10, maxFiles: 3)
        s.write("aaaaaaa\nbbbbbbb\n")
        let (text, next, gap) = drain(s, from: .beginning, maxFiles: 3, chunk: 5)
        #expect(text == "aaaaaaa\nbbbbbbb\n" && !gap)
        #expect(next == LogCursor(offset: 16))
    }
}
