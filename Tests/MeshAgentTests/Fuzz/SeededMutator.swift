import Foundation
import MeshCore

/// The committed libFuzzer corpus of one target (`fuzz/corpus/NAME/`), read by the seeded
/// in-suite runs; `MESHD_FUZZ_WRITE_CORPUS=1 swift test --filter DecoderFuzzTests` writes
/// the seeds the tests make with the encoders back into it.
enum FuzzCorpus {
    static func directory(_ name: String) -> URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent()   // Fuzz
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()   // the package
            .appendingPathComponent("fuzz/corpus/\(name)")
    }

    /// Every committed input of the target, in name order (so a seed picks the same ones).
    static func load(_ name: String) -> [[UInt8]] {
        let dir = directory(name)
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return files.sorted().compactMap { FileManager.default.contents(atPath: dir.appendingPathComponent($0).path).map { [UInt8]($0) } }
    }

    /// Writes `seeds` as `seed-N` when asked to by the environment.
    static func writeIfAsked(_ name: String, _ seeds: [[UInt8]]) throws {
        guard ProcessInfo.processInfo.environment["MESHD_FUZZ_WRITE_CORPUS"] == "1" else { return }
        let dir = directory(name)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for (i, s) in seeds.enumerated() { try Data(s).write(to: dir.appendingPathComponent("seed-\(i)")) }
    }
}

/// libFuzzer's mutations in small, driven by one seed so a failing input is made again by
/// rerunning the test: byte flips, interesting values (0, 0x7f, 0x80, 0xff, the largest
/// 32- and 64-bit integers) written over length and number fields, insertions, deletions,
/// truncations, duplicated runs and splices of two inputs.
struct SeededMutator {
    var rng: SeededRandom
    let corpus: [[UInt8]]

    init(seed: UInt64, corpus: [[UInt8]]) {
        precondition(!corpus.isEmpty, "a mutator needs at least one input")
        rng = SeededRandom(seed: seed); self.corpus = corpus
    }

    /// One mutated input: a corpus entry changed by one to four mutations.
    mutating func next() -> [UInt8] {
        var b = corpus.randomElement(using: &rng)!
        for _ in 0 ..< Int.random(in: 1 ... 4, using: &rng) { mutate(&b) }
        return b
    }

    private mutating func position(in b: [UInt8]) -> Int { b.isEmpty ? 0 : Int.random(in: 0 ..< b.count, using: &rng) }

    private mutating func mutate(_ b: inout [UInt8]) {
        switch Int.random(in: 0 ..< 8, using: &rng) {
        case 0 where !b.isEmpty:
            b[position(in: b)] ^= UInt8(1) << UInt8.random(in: 0 ... 7, using: &rng)
        case 1 where !b.isEmpty:
            b[position(in: b)] = [0, 1, 0x7f, 0x80, 0xfe, 0xff].randomElement(using: &rng)!
        case 2:   // a big-endian 32- or 64-bit value over a field
            let width = Bool.random(using: &rng) ? 4 : 8
            let value: UInt64 = [0, 1, UInt64(UInt32.max), UInt64(Int32.max), UInt64.max, UInt64(Int64.max), 1 << 31].randomElement(using: &rng)!
            let at = position(in: b)
            for i in 0 ..< width where at + i < b.count { b[at + i] = UInt8(truncatingIfNeeded: value >> UInt64((width - 1 - i) * 8)) }
        case 3:
            let at = b.isEmpty ? 0 : Int.random(in: 0 ... b.count, using: &rng)
            b.insert(contentsOf: (0 ..< Int.random(in: 1 ... 16, using: &rng)).map { _ in UInt8.random(in: 0 ... 255, using: &rng) }, at: at)
        case 4 where !b.isEmpty:
            let at = position(in: b)
            b.removeSubrange(at ..< min(b.count, at + Int.random(in: 1 ... 16, using: &rng)))
        case 5 where !b.isEmpty:
            b.removeLast(Int.random(in: 1 ... b.count, using: &rng))
        case 6 where !b.isEmpty:
            let at = position(in: b)
            let run = b[at ..< min(b.count, at + Int.random(in: 1 ... 32, using: &rng))]
            b.insert(contentsOf: run, at: position(in: b))
        default:   // splice: this input's head, another's tail
            let other = corpus.randomElement(using: &rng)!
            b = Array(b.prefix(position(in: b))) + Array(other.suffix(other.isEmpty ? 0 : Int.random(in: 0 ... other.count, using: &rng)))
        }
    }
}
