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

    @Test func aCursorWhoseFileWasRotatedAwayRestartsAtTheOldestFileAndSaysSo() throws {
        let s = try Stream(maxFileBytes: 9, maxFiles: 2)   // one 9-byte line per file
        s.write("01234567\nx1234567\ny1234567\nz1234567\n")
        // The file system may give a deleted file's inode to a new one, so "gone" is shown
        // with an inode that no file of the stream has.
        let c = LogChunks.read(base: s.base, maxFiles: 2, from: LogCursor(file: .max, offset: 5), maxBytes: 100)
        #expect(c.gap)
        #expect(String(decoding: c.data, as: UTF8.self) == "y1234567\nz1234567\n")
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
        let (text, _, gap) = drain(s, from: .beginning, maxFiles: 3, chunk: 5)
        #expect(text == "aaaaaaa\nbbbbbbb\n" && !gap)
    }
}
