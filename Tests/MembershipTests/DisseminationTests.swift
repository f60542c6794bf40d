import MeshCore
@testable import Membership
import Testing

/// The transmit-limited queue of updates: order, limits, replacement and eviction.
struct DisseminationTests {
    func suspect(_ i: Int, _ inc: UInt64 = 0) -> Update { .suspect(id: nodeID(i), incarnation: Incarnation(inc), from: nodeID(99)) }
    let size = Update.suspect(id: nodeID(1), incarnation: .zero, from: nodeID(2)).encodedSize

    @Test func leastSentGoFirstAndNewestAmongEquals() {
        var q = Dissemination(capacity: 100)
        for i in 1 ... 4 { q.enqueue(suspect(i)) }
        // Room for two: the two newest, each sent once.
        #expect(q.take(byteBudget: 2 * size, limit: 3).map(\.subject) == [nodeID(4), nodeID(3)])
        // Never sent beat sent once.
        #expect(q.take(byteBudget: 2 * size, limit: 3).map(\.subject) == [nodeID(2), nodeID(1)])
        q.enqueue(suspect(5))
        #expect(q.take(byteBudget: 10 * size, limit: 3).map(\.subject) == [nodeID(5), nodeID(1), nodeID(2), nodeID(3), nodeID(4)])
        #expect(q.count == 5)
    }

    @Test func anUpdateIsRetiredAfterItsLimitAndNeverTwiceInOneMessage() {
        var q = Dissemination(capacity: 100)
        q.enqueue(suspect(1))
        for _ in 0 ..< 3 { #expect(q.take(byteBudget: 10 * size, limit: 3).map(\.subject) == [nodeID(1)]) }
        #expect(q.isEmpty)
        #expect(q.take(byteBudget: 10 * size, limit: 3).isEmpty)
    }

    @Test func anEntryWithItsOwnLimitRetiresEarlier() {
        var q = Dissemination(capacity: 100)
        q.enqueue(suspect(1), transmissions: 1)
        q.enqueue(suspect(2))
        #expect(q.take(byteBudget: 10 * size, limit: 5).count == 2)
        #expect(q.queued(about: nodeID(1)) == nil)
        #expect(q.queued(about: nodeID(2)) != nil)
    }

    @Test func aNewerUpdateReplacesTheQueuedOneAndStartsAgain() {
        var q = Dissemination(capacity: 100)
        q.enqueue(suspect(1))
        _ = q.take(byteBudget: 10 * size, limit: 2)
        q.enqueue(suspect(1, 1))
        #expect(q.count == 1)
        #expect(q.take(byteBudget: 10 * size, limit: 2) == [suspect(1, 1)])
        #expect(q.take(byteBudget: 10 * size, limit: 2) == [suspect(1, 1)])
        #expect(q.isEmpty)
    }

    @Test func whatDoesNotFitWaitsForTheNextMessage() {
        var q = Dissemination(capacity: 100)
        let big = Update.alive(alive(7).with(metadata: MemberMetadata(tags: ["k": String(repeating: "x", count: 200)])))
        q.enqueue(suspect(1))
        q.enqueue(big)
        #expect(q.take(byteBudget: size + 10, limit: 3) == [suspect(1)])
        #expect(q.take(byteBudget: big.encodedSize, limit: 3) == [big])
    }

    @Test func beyondCapacityTheMostSentAreDropped() {
        var q = Dissemination(capacity: 16)
        for i in 1 ... 8 { q.enqueue(suspect(i)) }
        _ = q.take(byteBudget: 100 * size, limit: 10)       // 1...8 sent once
        for i in 9 ... 17 { q.enqueue(suspect(i)) }          // the 17th overflows: drop 2
        #expect(q.count == 15)
        // The two dropped were sent once, and the oldest of those (queued first, sent last).
        let left = Set((1 ... 17).filter { q.queued(about: nodeID($0)) != nil })
        #expect(left.isSuperset(of: Set(9 ... 17)))
        #expect(left.count == 15)
    }

    @Test func manyRoundsKeepTheQueueConsistent() {
        var q = Dissemination(capacity: 4096)
        var random = SeededRandom(seed: 3)
        var sent: [NodeID: Int] = [:]
        for round in 0 ..< 2000 {
            if round % 3 == 0 { q.enqueue(suspect(Int(random.next() % 50) + 1)) }
            let message = q.take(byteBudget: 5 * size, limit: 4)
            #expect(Set(message.map(\.subject)).count == message.count)
            for u in message { sent[u.subject, default: 0] += 1 }
        }
        for _ in 0 ..< 8 { _ = q.take(byteBudget: 5 * size, limit: 4) }
        #expect(q.isEmpty)
        #expect(!sent.isEmpty)
    }
}
