/// The one polling loop of the test suites: for tests that drive real processes, sockets
/// or actors on the real clock, where nothing can be driven to a point in virtual time.
/// Every wait is bounded; the caller says what it waited for, and the error says it.
public struct PollTimedOut: Error, CustomStringConvertible {
    public let description: String
}

/// Calls `probe` every `interval` until it returns a value, and returns it. After
/// `timeout` (one last try included) throws `PollTimedOut` naming `what` and the last
/// error `probe` threw, if any.
public func poll<T>(_ what: @autoclosure () -> String, timeout: Duration, interval: Duration,
                    _ probe: () async throws -> T?) async throws -> T {
    let deadline = ContinuousClock.now + timeout
    var lastError: (any Error)?
    while ContinuousClock.now < deadline {
        do { if let value = try await probe() { return value } } catch { lastError = error }
        try await Task.sleep(for: interval)
    }
    do { if let value = try await probe() { return value } } catch { lastError = error }
    throw PollTimedOut(description: "\(what()): not seen within \(timeout)" + (lastError.map { " (last error: \($0))" } ?? ""))
}

/// `poll` for a condition.
public func poll(_ what: @autoclosure () -> String, timeout: Duration, interval: Duration,
                 _ condition: () async throws -> Bool) async throws {
    _ = try await poll(what(), timeout: timeout, interval: interval) { try await condition() ? true : nil }
}
