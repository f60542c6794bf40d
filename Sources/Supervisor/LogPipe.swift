import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The queue and read buffer shared by every log pipe of one supervisor: one reader for
/// all instances (not a thread per instance), one buffer (not one per pipe).
final class LogIO: @unchecked Sendable {
    let queue = DispatchQueue(label: "meshd.supervisor.logs")
    /// Touched only on `queue`.
    let buffer: UnsafeMutableRawBufferPointer
    /// Open pipes, so the owner can close them all when it goes away. Touched only on `queue`.
    var open: [ObjectIdentifier: LogPipe] = [:]

    init(chunkBytes: Int) {
        buffer = .allocate(byteCount: max(4096, chunkBytes), alignment: 16)
    }

    deinit { buffer.deallocate() }

    /// Closes every pipe still open (the supervisor is going away).
    func closeAll() {
        let pipes = queue.sync { Array(open.values) }
        for pipe in pipes { pipe.close() }
    }
}

/// Captures one output stream of one instance: a FIFO that the process writes to, drained
/// by the agent into a ``RotatingLogFile`` and to `follow` subscribers.
///
/// Why a FIFO and not a pipe: the process opens it read-write (Linux allows this, fifo(7)),
/// so it always has a reader and never gets SIGPIPE while no agent runs; its writes block
/// once the FIFO's buffer is full until the next agent reopens the FIFO by its path and
/// drains it. An adopted process thus keeps its logs across an agent restart, with no
/// helper process. The agent also opens it read-write, so the reader never sees EOF and
/// the read source never spins when no process runs.
final class LogPipe: @unchecked Sendable {
    // Everything mutable below is touched only on `io.queue`.
    let stream: OutputStream
    let fifoPath: String
    let file: RotatingLogFile
    private let io: LogIO
    private let readFD: Int32
    private var source: (any DispatchSourceRead)?
    private var followers: [UInt64: AsyncStream<[UInt8]>.Continuation] = [:]
    private var nextFollower: UInt64 = 0
    private var failing = false
    private let followBuffer: Int
    private let onWriteProblem: @Sendable (OutputStream, String?) -> Void

    /// Creates (or reuses) `<directory>/<stream>.fifo` and starts draining it into
    /// `<directory>/<stream>.log`. `onWriteProblem` gets a reason when writing starts to
    /// fail and nil when it works again.
    init(directory: String, stream: OutputStream, settings: SupervisorSettings, io: LogIO,
         onWriteProblem: @escaping @Sendable (OutputStream, String?) -> Void) throws(SupervisorError) {
        self.stream = stream
        self.io = io
        self.onWriteProblem = onWriteProblem
        followBuffer = settings.followBufferChunks
        fifoPath = "\(directory)/\(stream.rawValue).fifo"
        file = RotatingLogFile(path: "\(directory)/\(stream.rawValue).log",
                               maxFileBytes: settings.logMaxFileBytes, maxFiles: settings.logMaxFiles)
        var st = stat()
        if lstat(fifoPath, &st) == 0, (st.st_mode & S_IFMT) != S_IFIFO { unlink(fifoPath) }
        if mkfifo(fifoPath, 0o600) != 0, errno != EEXIST {
            throw .logDirectoryUnwritable(path: directory, reason: "mkfifo: \(String(cString: strerror(errno)))")
        }
        let fd = open(fifoPath, O_RDWR | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            throw .logDirectoryUnwritable(path: directory, reason: "open fifo: \(String(cString: strerror(errno)))")
        }
        if let failure = file.open() {
            Glibc.close(fd)
            throw .logDirectoryUnwritable(path: directory, reason: failure)
        }
        readFD = fd
        let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: io.queue)
        source.setEventHandler { [unowned self, io] in _ = self.readAvailable(limit: 16 * io.buffer.count) }
        source.setCancelHandler { Glibc.close(fd) }
        self.source = source
        source.resume()
        io.queue.sync { io.open[ObjectIdentifier(self)] = self }
    }

    /// A new descriptor for the process's side (read-write, blocking, close-on-exec: the
    /// spawner dup2s it onto 1 or 2).
    func openWriteEnd() throws(SupervisorError) -> Int32 {
        let fd = open(fifoPath, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else {
            throw .logDirectoryUnwritable(path: fifoPath, reason: String(cString: strerror(errno)))
        }
        return fd
    }

    /// Reads what is in the FIFO now (up to `limit` bytes), on the caller's thread, so the
    /// last output of an exited process is on disk before its exit is reported.
    func drain(limit: Int) {
        io.queue.sync { _ = readAvailable(limit: limit) }
    }

    /// Live output from now on, preceded by the last `tailLines` lines already written.
    /// Both happen on the log queue, so nothing is missed or repeated between them.
    func follow(tailLines: Int) -> AsyncStream<[UInt8]> {
        let (stream, continuation) = AsyncStream.makeStream(of: [UInt8].self, bufferingPolicy: .bufferingNewest(followBuffer))
        io.queue.async { [self] in
            let tail = LogTail.tailBytes(base: file.path, maxFiles: file.maxFiles, count: tailLines)
            if !tail.isEmpty { continuation.yield(tail) }
            guard source != nil else { continuation.finish(); return }
            let key = nextFollower
            nextFollower += 1
            followers[key] = continuation
            continuation.onTermination = { [weak self] _ in
                guard let self else { return }
                self.io.queue.async { self.followers[key] = nil }
            }
        }
        return stream
    }

    /// Stops draining (the FIFO stays for a later agent) and ends every `follow` stream.
    func close() {
        io.queue.sync {
            io.open[ObjectIdentifier(self)] = nil
            source?.cancel()
            source = nil
            file.close()
            for c in followers.values { c.finish() }
            followers = [:]
        }
    }

    /// Must run on `io.queue`. Returns the bytes read.
    private func readAvailable(limit: Int) -> Int {
        guard source != nil else { return 0 }
        var total = 0
        while total < limit {
            let n = read(readFD, io.buffer.baseAddress, min(io.buffer.count, limit - total))
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            total += n
            let bytes = UnsafeRawBufferPointer(rebasing: io.buffer[0 ..< n])
            let failure = file.write(bytes)
            if let failure, !failing { failing = true; onWriteProblem(stream, failure) }
            if failure == nil, failing { failing = false; onWriteProblem(stream, nil) }
            if !followers.isEmpty {
                let chunk = [UInt8](bytes)
                for c in followers.values { c.yield(chunk) }
            }
        }
        return total
    }
}
