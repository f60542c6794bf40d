import MeshCore
@testable import EventLog
import MeshWire
import Testing

/// The broadcast tree and incremental digests, message by message.
struct BroadcastTreeTests {
    static let t0 = MeshTime.zero
    /// A wall clock past `antiEntropyGrace` after events stamped at 1 ms.
    static let later: UInt64 = 10_000

    /// A relay-only replicator (no identity) that knows `peers`.
    static func node(peers: [NodeID], seed: UInt64 = 1, settings: ReplicationSettings = .lan) -> Replicator<MemoryEventStore> {
        var r = try! Replicator(store: MemoryEventStore(), key: nil, settings: settings, random: SeededRandom(seed: seed), now: t0)
        r.setPeers(peers)
        return r
    }

    /// `.lan` with every link pushing every round (no coalescing), for tests of what goes
    /// on a link rather than when.
    static let everyRound: ReplicationSettings = { var s = ReplicationSettings.lan; s.maxPushHold = .zero; return s }()

    static func sends(_ effects: [ReplicationEffect]) -> [(ReplicationMessage, NodeID)] {
        effects.compactMap { if case let .send(m, to) = $0 { (m, to) } else { nil } }
    }

    @Test func aPushThatBringsOnlyDuplicatesOfAnOriginPrunesThatOrigin() {
        let a = Author(), b = Author(), c = Author()
        var x = Author(), y = Author()
        let x1 = x.next(), y1 = y.next()
        var n = Self.node(peers: [a.key.nodeID, b.key.nodeID, c.key.nodeID])
        var effects = n.receive(.push([x1]), from: a.key.nodeID, now: Self.t0, wallMilliseconds: 1)
        #expect(n.eagerPeers.contains(a.key.nodeID), "a push that brought news makes its sender a link")
        #expect(!Self.sends(effects).contains { if case .prune = $0.0 { true } else { false } })
        // b brings x1 again (a duplicate) and y1 (news): only x is pruned, and b stays a link.
        effects = n.receive(.push([x1, y1]), from: b.key.nodeID, now: Self.t0, wallMilliseconds: 1)
        let prunes = Self.sends(effects).filter { if case .prune = $0.0 { true } else { false } }
        #expect(prunes.count == 1)
        #expect(prunes.first?.0 == .prune([EventID.tag(of: x1.origin)]) && prunes.first?.1 == b.key.nodeID)
        #expect(n.eagerPeers.contains(b.key.nodeID))
        #expect(n.metrics.prunesSent == 1 && n.metrics.duplicates == 1)
    }

    /// The other side of a prune: the pruned origin no longer goes on that link, others do;
    /// a graft for it brings it back.
    @Test func aPrunedOriginStaysOffTheLinkUntilAGraft() {
        let a = Author(), c = Author()
        var x = Author(), y = Author()
        let x1 = x.next(), x2 = x.next(), x3 = x.next(), y1 = y.next()
        var n = Self.node(peers: [a.key.nodeID, c.key.nodeID], settings: Self.everyRound)
        #expect(Set(n.eagerPeers) == [a.key.nodeID, c.key.nodeID])
        func pushedTo(_ peer: NodeID, _ effects: [ReplicationEffect]) -> [Event] {
            var out: [Event] = []
            for (m, to) in Self.sends(effects) { if case let .push(e) = m, to == peer { out += e } }
            return out
        }
        _ = n.receive(.push([x1]), from: a.key.nodeID, now: Self.t0, wallMilliseconds: 1)
        #expect(pushedTo(c.key.nodeID, n.tick(now: Self.t0)) == [x1])
        _ = n.receive(.prune([EventID.tag(of: x1.origin)]), from: c.key.nodeID, now: Self.t0, wallMilliseconds: 1)
        _ = n.receive(.push([x2, y1]), from: a.key.nodeID, now: Self.t0 + .milliseconds(100), wallMilliseconds: 1)
        #expect(pushedTo(c.key.nodeID, n.tick(now: Self.t0 + .milliseconds(100))) == [y1])
        let answer = n.receive(.graft([EventID(x2)]), from: c.key.nodeID, now: Self.t0 + .milliseconds(150), wallMilliseconds: 1)
        #expect(pushedTo(c.key.nodeID, answer) == [x2], "a graft is answered at once")
        _ = n.receive(.push([x3]), from: a.key.nodeID, now: Self.t0 + .milliseconds(200), wallMilliseconds: 1)
        #expect(pushedTo(c.key.nodeID, n.tick(now: Self.t0 + .milliseconds(200))) == [x3], "the graft lifted the prune")
    }

    /// A node's first pick opens its side of the link (an empty GRAFT, sent at once): the
    /// picked member pushes it every origin, where a link that only came to a node (a push
    /// received) carries the peer's grafted origins and its own. Without it a node no member
    /// picked got each origin only by a graft of its own.
    @Test func theFirstPickedLinkCarriesEveryOriginBothWays() {
        let members = (0 ..< 6).map { _ in Author().key.nodeID }
        var n = Self.node(peers: members)
        #expect(n.nextWakeup == .zero, "the opening is due at once")
        let opened = Self.sends(n.tick(now: Self.t0)).filter { if case .graft = $0.0 { true } else { false } }
        #expect(opened.count == 1 && opened.first?.0 == .graft([]))
        #expect(opened.first.map { n.eagerPeers.first == $0.1 } == true, "to the first pick")
        #expect(n.metrics.graftsSent == 0, "an opening is not a repair")
        #expect(n.nextWakeup > Self.t0)

        // The picked side: a relay whose own picks are neither `picker` nor `stranger`.
        var m = Self.node(peers: members, seed: 7, settings: Self.everyRound)
        let others = members.filter { !m.eagerPeers.contains($0) }
        let picker = others[0], stranger = others[1]
        var own = Author(), x = Author()
        _ = m.receive(.graft([]), from: picker, now: Self.t0, wallMilliseconds: 1)
        _ = m.receive(.push([own.next()]), from: stranger, now: Self.t0, wallMilliseconds: 1)
        #expect(m.eagerPeers.contains(picker) && m.eagerPeers.contains(stranger))
        let x1 = x.next()
        _ = m.receive(.push([x1]), from: m.eagerPeers[0], now: Self.t0, wallMilliseconds: 1)
        var to: [NodeID: [Event]] = [:]
        for (msg, peer) in Self.sends(m.tick(now: Self.t0 + .milliseconds(50))) { if case let .push(e) = msg { to[peer, default: []] += e } }
        #expect(to[picker]?.contains(x1) == true, "the opened link carries a third origin")
        #expect(to[stranger]?.contains(x1) != true, "a link that only came to this node does not")
    }

    /// Per-link coalescing: a thin link's events wait for a fuller push, up to
    /// `maxPushHold`; a link whose events fill `pushFillBytes` pushes in the same round; an
    /// origin pruned while its events wait is left out.
    @Test func aThinLinkHoldsItsPushUntilItFillsOrTheHoldPasses() {
        let a = Author(), c = Author()
        var x = Author(), y = Author()
        let settings = ReplicationSettings.lan
        let hold = settings.maxPushHold
        #expect(hold > settings.pushInterval)
        var n = Self.node(peers: [a.key.nodeID, c.key.nodeID])
        #expect(Set(n.eagerPeers) == [a.key.nodeID, c.key.nodeID])
        func pushesTo(_ peer: NodeID, _ effects: [ReplicationEffect]) -> [[Event]] {
            Self.sends(effects).compactMap { if case let .push(e) = $0.0, $0.1 == peer { e } else { nil } }
        }
        let x1 = x.next(), x2 = x.next()
        _ = n.receive(.push([x1]), from: a.key.nodeID, now: Self.t0, wallMilliseconds: 1)
        #expect(pushesTo(c.key.nodeID, n.tick(now: Self.t0)).isEmpty, "one event waits for company")
        #expect(n.nextWakeup == Self.t0 + hold)
        let t1 = Self.t0 + settings.pushInterval
        _ = n.receive(.push([x2]), from: a.key.nodeID, now: t1, wallMilliseconds: 1)
        #expect(pushesTo(c.key.nodeID, n.tick(now: t1)).isEmpty)
        #expect(pushesTo(c.key.nodeID, n.tick(now: Self.t0 + hold)) == [[x1, x2]], "one push once the oldest waited the hold")
        #expect(n.nextWakeup > Self.t0 + hold)

        // A round that brings a push's worth goes at once.
        var full: [Event] = []
        while full.reduce(0, { $0 + $1.encodedSize }) < settings.pushFillBytes { full.append(y.next()) }
        let t2 = Self.t0 + hold + settings.pushInterval
        _ = n.receive(.push(full), from: a.key.nodeID, now: t2, wallMilliseconds: 1)
        #expect(pushesTo(c.key.nodeID, n.tick(now: t2)) == [full])

        // Held, then pruned: the pruned origin's events are not sent.
        let x3 = x.next(), y2 = y.next()
        let t3 = t2 + settings.pushInterval
        _ = n.receive(.push([x3, y2]), from: a.key.nodeID, now: t3, wallMilliseconds: 1)
        #expect(pushesTo(c.key.nodeID, n.tick(now: t3)).isEmpty)
        _ = n.receive(.prune([EventID.tag(of: x3.origin)]), from: c.key.nodeID, now: t3, wallMilliseconds: 1)
        #expect(pushesTo(c.key.nodeID, n.tick(now: t3 + hold)) == [[y2]])
    }

    /// A pushed event older than `maxRelayAge` (a graft answer filling a backlog) is stored
    /// but neither relayed nor announced; a fresh one in the same push is both.
    @Test func oldEventsInAPushAreStoredButNotRelayed() {
        let a = Author(), c = Author()
        var x = Author()
        let age = UInt64(ReplicationSettings.lan.maxRelayAge.nanoseconds / 1_000_000)
        let wall: UInt64 = 1_700_000_000_000 + 2 * age
        let old = x.next("user.test", at: 1_700_000_000_000), fresh = x.next("user.test", at: wall)
        var n = Self.node(peers: [a.key.nodeID, c.key.nodeID], settings: Self.everyRound)
        _ = n.receive(.push([old, fresh]), from: a.key.nodeID, now: Self.t0, wallMilliseconds: wall)
        #expect(n.heldMarks[x.key.nodeID]?.high == fresh.seq, "both stored")
        #expect(n.lazyQueue.map(\.id) == [EventID(fresh)], "only the fresh one is queued for announcement")
        var pushed: [Event] = []
        var t = Self.t0
        while t <= Self.t0 + ReplicationSettings.lan.maxLazyHold {
            for (m, _) in Self.sends(n.tick(now: t)) {
                if case let .push(e) = m { pushed += e }
            }
            t = t + .milliseconds(10)
        }
        #expect(pushed == [fresh])
    }

    /// Lazy announcements wait for `lazyFillIDs` ids or `maxLazyHold`: a thin stream of
    /// new events is announced in fewer, fuller IHAVEs.
    @Test func aLazyRoundWaitsUntilItsIDsFillAnAnnouncementOrTheHoldPasses() throws {
        let settings = ReplicationSettings.lan
        #expect(settings.maxLazyHold > settings.lazyInterval)
        var n = try Replicator(store: MemoryEventStore(), key: Author().key, settings: settings, random: SeededRandom(seed: 5), now: Self.t0)
        n.assumeOwnHistoryComplete()
        n.setPeers((0 ..< 4).map { _ in Author().key.nodeID })
        func announced(_ effects: [ReplicationEffect]) -> [EventID] {
            Self.sends(effects).flatMap { (m, _) -> [EventID] in if case let .ihave(ids) = m { ids } else { [] } }
        }
        let (e1, first) = try n.append(kind: "user.test", attributes: [:], wallMilliseconds: 1, now: Self.t0)
        var ids = announced(first)
        var t = Self.t0
        while t < Self.t0 + settings.maxLazyHold {
            ids += announced(n.tick(now: t))
            t = t + .milliseconds(10)
        }
        #expect(ids.isEmpty, "one id waits for company")
        #expect(announced(n.tick(now: Self.t0 + settings.maxLazyHold)) == [EventID(e1)])

        // A round's worth goes at the next round.
        let t1 = Self.t0 + .seconds(2)
        var appended: [EventID] = []
        for _ in 0 ..< settings.lazyFillIDs {
            let e = try n.append(kind: "user.test", attributes: [:], wallMilliseconds: 2, now: t1).0
            appended.append(EventID(e))
        }
        #expect(n.nextWakeup <= t1)
        #expect(announced(n.tick(now: t1)) == appended)
    }

    @Test func anAnnouncedEventThatDoesNotArriveIsGraftedAfterTheTimeout() {
        let a = Author(), b = Author()
        var author = Author()
        let e1 = author.next(), e2 = author.next()
        var n = Self.node(peers: [a.key.nodeID, b.key.nodeID])
        _ = n.receive(.ihave([EventID(e1), EventID(e2)]), from: b.key.nodeID, now: Self.t0, wallMilliseconds: 1)
        // e2 comes along the tree in time; e1 does not.
        _ = n.receive(.push([e1]), from: a.key.nodeID, now: Self.t0 + .milliseconds(100), wallMilliseconds: 1)
        let early = Self.sends(n.tick(now: Self.t0 + .milliseconds(700)))
        #expect(!early.contains { if case .graft = $0.0 { true } else { false } }, "not before graftTimeout")
        #expect(n.nextWakeup <= Self.t0 + ReplicationSettings.lan.graftTimeout)
        let late = Self.sends(n.tick(now: Self.t0 + ReplicationSettings.lan.graftTimeout))
        let grafts = late.filter { if case .graft = $0.0 { true } else { false } }
        #expect(grafts.count == 1)
        #expect(grafts.first?.0 == .graft([EventID(e2)]) && grafts.first?.1 == b.key.nodeID)
        #expect(n.eagerPeers.contains(b.key.nodeID), "grafting makes the announcer's link eager")
        #expect(n.metrics.graftsSent == 1)
        // Nobody else announced it: the next timeout gives up (anti-entropy covers it).
        _ = n.tick(now: Self.t0 + ReplicationSettings.lan.graftTimeout * 2)
        #expect(n.metrics.graftsAbandoned == 1)
    }

    @Test func aGraftIsAnsweredAtOnceWithTheEventsAndAnEagerLink() {
        let a = Author()
        var author = Author()
        let e1 = author.next(), e2 = author.next()
        var n = Self.node(peers: [a.key.nodeID, author.key.nodeID])
        _ = n.receive(.push([e1, e2]), from: author.key.nodeID, now: Self.t0, wallMilliseconds: 1)
        let effects = Self.sends(n.receive(.graft([EventID(e2), EventID(tag: 42, seq: 1)]), from: a.key.nodeID,
                                           now: Self.t0, wallMilliseconds: 1))
        #expect(effects.count == 1)
        #expect(effects.first?.0 == .push([e2]) && effects.first?.1 == a.key.nodeID)
        #expect(n.eagerPeers.contains(a.key.nodeID))
    }

    @Test func announcementsOfHeldEventsAreIgnoredAndTheMissingTableIsBounded() {
        let a = Author()
        var author = Author()
        let e1 = author.next()
        var settings = ReplicationSettings.lan
        settings.maxMissing = 2
        var n = Self.node(peers: [a.key.nodeID], settings: settings)
        _ = n.receive(.push([e1]), from: a.key.nodeID, now: Self.t0, wallMilliseconds: 1)
        _ = n.receive(.ihave([EventID(e1)] + (1 ... 3).map { EventID(tag: 7, seq: $0) }), from: a.key.nodeID, now: Self.t0, wallMilliseconds: 1)
        #expect(n.missing.count == 2)
        #expect(n.missing[EventID(e1)] == nil)
        #expect(n.metrics.announcementsIgnored == 1)
    }

    /// A node whose every link dies still gets new events: other nodes' lazy
    /// announcements make it graft (with the gap before each announced event), which links
    /// it back into the trees. Anti-entropy is off (an hour), so only the tree can deliver.
    @Test func theTreeRepairsItselfAfterItsPeersDie() {
        var settings = ReplicationSettings.lan
        settings.antiEntropyInterval = .seconds(3600)
        settings.lazyFanout = 3     // with one, an event's last announcement may miss a node: anti-entropy's job
        var m = Mesh(size: 10, settings: settings)
        for round in 0 ..< 20 { m.append(round % 10); m.advance(by: .milliseconds(200)) }
        m.advance(by: .seconds(2))
        for i in 1 ..< 10 { #expect(m.digest(i) == m.digest(0)) }
        let victims = Set(m.nodes[0].eagerPeers.map(m.index))
        #expect(!victims.isEmpty && victims.count <= 5)
        m.down = victims
        let live = (0 ..< 10).filter { !victims.contains($0) }
        for i in live { m.nodes[i].setPeers(live.map { m.keys[$0].nodeID }) }
        #expect(m.nodes[0].eagerPeers.isEmpty, "node 0 lost every link")
        let graftsBefore = m.nodes[0].metrics.graftsSent
        var appended: [Event] = []
        for round in 0 ..< 30 where live.contains(round % 10) && round % 10 != 0 {
            appended.append(m.append(round % 10)); m.advance(by: .milliseconds(200))
        }
        m.advance(by: .seconds(3))
        for i in live {
            let held = Set(m.all(i))
            #expect(appended.allSatisfy(held.contains), "node \(i) misses \(appended.filter { !held.contains($0) }.count)")
        }
        #expect(m.nodes[0].metrics.graftsSent > graftsBefore)
        #expect(!m.nodes[0].eagerPeers.isEmpty, "node 0 is linked again")
        for i in live { #expect(m.nodes[i].eagerPeers.allSatisfy { !victims.contains(m.index($0)) }, "no link to a dead node is left") }
    }

    /// A graft for an event of an origin held only up to an earlier seq also asks for the
    /// gap, so the grafted event can be stored rather than held.
    @Test func aGraftAlsoAsksForTheGapBeforeTheAnnouncedEvent() {
        let a = Author()
        var x = Author()
        let x1 = x.next(), x2 = x.next(), x3 = x.next(), x4 = x.next()
        var n = Self.node(peers: [a.key.nodeID, x.key.nodeID])
        _ = n.receive(.push([x1]), from: x.key.nodeID, now: Self.t0, wallMilliseconds: 1)
        _ = n.receive(.push([x3]), from: x.key.nodeID, now: Self.t0, wallMilliseconds: 1)
        _ = n.receive(.ihave([EventID(x4)]), from: a.key.nodeID, now: Self.t0, wallMilliseconds: 1)
        let grafts = Self.sends(n.tick(now: Self.t0 + ReplicationSettings.lan.graftTimeout)).filter {
            if case .graft = $0.0 { true } else { false }
        }
        // x2 is the gap (x3 is held ahead of it), then x4 itself.
        #expect(grafts.map(\.0) == [.graft([EventID(x2), EventID(x4)])])
    }

    /// In a settled mesh the tree sends each event to each node about once: no pruning
    /// storm, few duplicates.
    @Test func aSettledTreeDeliversEachEventAboutOnce() {
        var m = Mesh(size: 12)
        for round in 0 ..< 120 { m.append(round % 12); m.advance(by: .milliseconds(100)) }
        let dupsBefore = m.nodes.reduce(0) { $0 + $1.metrics.duplicates }
        let storedBefore = m.nodes.reduce(0) { $0 + $1.metrics.stored }
        for round in 0 ..< 240 { m.append(round % 12); m.advance(by: .milliseconds(100)) }
        m.advance(by: .seconds(2))
        let dups = m.nodes.reduce(0) { $0 + $1.metrics.duplicates } - dupsBefore
        let stored = m.nodes.reduce(0) { $0 + $1.metrics.stored } - storedBefore
        #expect(stored >= 240 * 11)
        for i in 1 ..< 12 { #expect(m.digest(i) == m.digest(0)) }
        #expect(Double(dups) < 0.2 * Double(stored), "\(dups) duplicates for \(stored) events stored")
    }

    @Test func incrementalDigestsCarryOnlyWhatThePeerDoesNotKnow() throws {
        let peer = Author()
        var n = try Replicator(store: MemoryEventStore(), key: Author().key, settings: .lan, random: SeededRandom(seed: 3), now: Self.t0)
        n.assumeOwnHistoryComplete()
        n.setPeers([peer.key.nodeID])
        let own = n.key!.nodeID
        var events: [Event] = []
        for _ in 0 ..< 3 { events.append(try n.append(kind: "user.test", attributes: [:], wallMilliseconds: 1, now: Self.t0).0) }
        var now = Self.t0
        func ask(_ entries: [DeltaEntry]) -> [(ReplicationMessage, NodeID)] {
            Self.sends(n.receive(.delta(entries, isReply: false), from: peer.key.nodeID, now: now, wallMilliseconds: Self.later))
        }
        // A delta from a peer whose knowledge is not known yet starts a full exchange.
        var out = ask([])
        #expect(out.map(\.0) == [.digest([DigestEntry(origin: own, marks: OriginMarks(low: EventSeq(1), high: EventSeq(3)))], isReply: false)])
        // Its full digest (it holds nothing): all three go.
        out = Self.sends(n.receive(.digest([], isReply: true), from: peer.key.nodeID, now: Self.t0, wallMilliseconds: Self.later))
        #expect(out.map(\.0) == [.batch(events, more: false)])
        // Nothing changed since: no batch, an empty reply.
        out = ask([])
        #expect(out.map(\.0) == [.delta([], isReply: true)])
        // One new event: only it goes.
        events.append(try n.append(kind: "user.test", attributes: [:], wallMilliseconds: 1, now: Self.t0).0)
        out = ask([])
        #expect(out.map(\.0) == [.batch([events[3]], more: false), .delta([], isReply: true)])
        // The peer says it holds only 2 at once: its delta crossed the batches carrying 3
        // and 4, which are not sent twice (`batchInFlightHold`)...
        out = ask([DeltaEntry(origin: own, high: EventSeq(2))])
        #expect(out.map(\.0) == [.delta([], isReply: true)])
        // ...but once they had time to arrive, it lost them: 3 and 4 go again.
        now = now + n.settings.batchInFlightHold
        out = ask([DeltaEntry(origin: own, high: EventSeq(2))])
        #expect(out.map(\.0) == [.batch(Array(events[2...]), more: false), .delta([], isReply: true)])
        // Another origin's events reached this node from elsewhere; the peer holds more of
        // them: nothing to send, and the reply says how far this node got, so the peer
        // sends the rest.
        var x = Author()
        let x1 = x.next(), x2 = x.next(), x3 = x.next()
        _ = n.receive(.push([x1, x2, x3]), from: x.key.nodeID, now: now, wallMilliseconds: 1)
        out = ask([DeltaEntry(origin: x.key.nodeID, high: EventSeq(5))])
        #expect(out.map(\.0) == [.delta([DeltaEntry(origin: x.key.nodeID, high: EventSeq(3))], isReply: true)])
        out = ask([])
        #expect(out.map(\.0) == [.delta([], isReply: true)], "said once, not again")
        #expect(n.metrics.deltasSent == 6)
    }

    /// Anti-entropy leaves the freshest events to the tree: a copy racing the tree's would
    /// make the receiver prune its tree link.
    @Test func antiEntropyLeavesEventsYoungerThanTheGraceToTheTree() throws {
        let peer = Author()
        var n = try Replicator(store: MemoryEventStore(), key: Author().key, settings: .lan, random: SeededRandom(seed: 3), now: Self.t0)
        n.assumeOwnHistoryComplete()
        n.setPeers([peer.key.nodeID])
        let old = try n.append(kind: "user.test", attributes: [:], wallMilliseconds: 1000, now: Self.t0).0
        _ = try n.append(kind: "user.test", attributes: [:], wallMilliseconds: 4000, now: Self.t0)
        let out = Self.sends(n.receive(.digest([], isReply: true), from: peer.key.nodeID, now: Self.t0, wallMilliseconds: 4500))
        #expect(out.map(\.0) == [.batch([old], more: false)])
    }

    /// While nothing needs repair, anti-entropy backs off to `maxAntiEntropyInterval`; a
    /// batch that brings events brings it back to `antiEntropyInterval`.
    @Test func antiEntropyBacksOffWhileNothingNeedsRepair() {
        let peer = Author()
        var n = Self.node(peers: [peer.key.nodeID])
        var times: [MeshTime] = []
        for _ in 0 ..< 8 {
            let t = n.nextWakeup
            let sent = Self.sends(n.tick(now: t))
            if !sent.isEmpty { times.append(t) }
            for (m, to) in sent { if case .digest(_, false) = m { _ = n.receive(.digest([], isReply: true), from: to, now: t, wallMilliseconds: 1) } }
        }
        let gaps = zip(times.dropFirst(), times).map { ($0 - $1).seconds }
        #expect(gaps.count == 7)
        #expect(gaps[0] < 2.6 && gaps[6] >= 0.75 * 8 && gaps[6] <= 1.25 * 8, "\(gaps)")
        var x = Author()
        _ = n.receive(.batch([x.next()], more: false), from: peer.key.nodeID, now: times.last!, wallMilliseconds: 1)
        let before = n.nextWakeup
        _ = n.tick(now: before)
        #expect((n.nextWakeup - before).seconds <= 1.25, "a repair resets the interval")
    }

    @Test func everyFullDigestEveryRoundsTheSafetyNetSendsAFullDigest() {
        var settings = ReplicationSettings.lan
        settings.fullDigestEvery = 3
        let peers = (0 ..< 4).map { _ in Author().key.nodeID }
        var n = Self.node(peers: peers, settings: settings)
        _ = n.tick(now: Self.t0)     // the first pick's opening (an empty GRAFT)
        var kinds: [MessageKind] = []
        var t = Self.t0
        for _ in 0 ..< 10 {
            t = n.nextWakeup
            for (m, to) in Self.sends(n.tick(now: t)) {
                kinds.append(m.kind)
                // Each member answers a full digest with its own: then deltas can follow.
                if case .digest(_, false) = m { _ = n.receive(.digest([], isReply: true), from: to, now: t, wallMilliseconds: 1) }
            }
        }
        // Four new members first get full digests, then two deltas to eager peers for each full one.
        #expect(Array(kinds.prefix(4)) == [.eventDigest, .eventDigest, .eventDigest, .eventDigest])
        #expect(Array(kinds.dropFirst(4)) == [.eventDigestDelta, .eventDigest, .eventDigestDelta, .eventDigestDelta, .eventDigest, .eventDigestDelta])
    }

    /// Grafts name their ids in id order, whatever the dictionary order of the missing
    /// table (it changes from process to process; a simulation seed must replay).
    @Test func graftsListTheirIDsInOrder() {
        let a = Author(), b = Author()
        var n = Self.node(peers: [a.key.nodeID, b.key.nodeID])
        var ids: [EventID] = []
        for _ in 0 ..< 20 { var o = Author(); ids.append(EventID(o.next())) }
        _ = n.receive(.ihave(ids), from: b.key.nodeID, now: Self.t0, wallMilliseconds: 1)
        let grafts = Self.sends(n.tick(now: Self.t0 + ReplicationSettings.lan.graftTimeout)).compactMap { m, _ -> [EventID]? in
            if case let .graft(g) = m { g } else { nil }
        }
        #expect(grafts.count == 1)
        #expect(grafts.first == ids.sorted { ($0.tag, $0.seq) < ($1.tag, $1.seq) })
    }
}
