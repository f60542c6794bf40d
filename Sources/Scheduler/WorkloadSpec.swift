/// What a user asks the mesh to keep running: `count` instances of a command, placed on
/// nodes that meet the constraints and have room for the resources.
public struct WorkloadSpec: Sendable, Equatable {
    public enum Strategy: String, Sendable, Equatable, CaseIterable {
        /// Fewest instances of this workload per node, then the most room left.
        case spread
        /// The least room left that still fits: fills nodes one after another.
        case binpack
    }

    /// After a partition heals, which of two instances of one slot keeps running.
    public enum OnHeal: String, Sendable, Equatable, CaseIterable {
        case keepOriginal = "keep_original"
        case keepReplacement = "keep_replacement"
        case longestRunning = "longest_running"
    }

    public struct Resources: Sendable, Equatable {
        public var cpuMillicores: Int
        public var memoryMB: Int
        public init(cpuMillicores: Int = 0, memoryMB: Int = 0) { self.cpuMillicores = cpuMillicores; self.memoryMB = memoryMB }
    }

    /// A git repository each node clones or updates into the instance's directory before
    /// starting it.
    public struct Source: Sendable, Equatable {
        public var url: String
        public var ref: String
        public init(url: String, ref: String = "HEAD") { self.url = url; self.ref = ref }
    }

    public var name: String
    public var command: [String]
    public var environment: [String: String]
    public var workingDirectory: String?
    public var count: Int
    public var resources: Resources
    public var constraints: [Constraint]
    public var strategy: Strategy
    /// The supervisor's restart policy, handed through (`always`, `on-failure`, `never`).
    public var restart: String
    public var rescheduleAfter: Duration?
    /// On the minority side of a partition, stop the instances after this long without a
    /// leader; nil keeps them running (they may still serve users there).
    public var stopAfterDisconnect: Duration?
    public var onHeal: OnHeal
    /// Restart an instance when the addresses of its peers change (`{{peers}}` users).
    public var restartOnPeerChange: Bool
    public var source: Source?

    public init(name: String, command: [String], environment: [String: String] = [:], workingDirectory: String? = nil,
                count: Int = 1, resources: Resources = .init(), constraints: [Constraint] = [], strategy: Strategy = .spread,
                restart: String = "on-failure", rescheduleAfter: Duration? = nil, stopAfterDisconnect: Duration? = nil,
                onHeal: OnHeal = .keepReplacement, restartOnPeerChange: Bool = false, source: Source? = nil) {
        self.name = name; self.command = command; self.environment = environment; self.workingDirectory = workingDirectory
        self.count = count; self.resources = resources; self.constraints = constraints; self.strategy = strategy
        self.restart = restart; self.rescheduleAfter = rescheduleAfter; self.stopAfterDisconnect = stopAfterDisconnect
        self.onHeal = onHeal; self.restartOnPeerChange = restartOnPeerChange; self.source = source
    }

    /// Checks everything a user can get wrong, before anything is committed.
    public func validate(_ settings: SchedulerSettings = .standard) throws(SpecError) {
        guard Self.isValidName(name) else { throw .badName(name) }
        guard let program = command.first, !program.isEmpty else { throw .emptyCommand }
        guard command.count <= settings.maxArguments else { throw .tooMany("arguments", command.count, settings.maxArguments) }
        guard environment.count <= settings.maxEnvironment else {
            throw .tooMany("environment entries", environment.count, settings.maxEnvironment)
        }
        guard constraints.count <= settings.maxConstraints else {
            throw .tooMany("constraints", constraints.count, settings.maxConstraints)
        }
        guard count >= 0, count <= settings.maxCount else { throw .badCount(count, max: settings.maxCount) }
        guard resources.cpuMillicores >= 0, resources.memoryMB >= 0 else { throw .badResources }
        for field in command + Array(environment.values) + Array(environment.keys) + [workingDirectory ?? ""]
        where field.utf8.count > settings.maxFieldBytes {
            throw .fieldTooLong(String(field.prefix(40)), limit: settings.maxFieldBytes)
        }
        for key in environment.keys where key.isEmpty || key.contains("=") { throw .badEnvironment(key) }
        for argument in command + Array(environment.values) { try Template.check(argument) }
        guard ["always", "on-failure", "never"].contains(restart) else { throw .badRestart(restart) }
        if let d = rescheduleAfter, d < .zero { throw .badDuration("reschedule_after") }
        if let d = stopAfterDisconnect, d < .zero { throw .badDuration("stop_after_disconnect") }
        if let source {
            guard Self.isGitURL(source.url) else { throw .badSource(source.url) }
            guard !source.ref.isEmpty, !source.ref.hasPrefix("-"), !source.ref.contains(" ") else { throw .badSource(source.ref) }
            guard source.url.utf8.count <= settings.maxFieldBytes, source.ref.utf8.count <= settings.maxFieldBytes else {
                throw .fieldTooLong(String(source.url.prefix(40)), limit: settings.maxFieldBytes)
            }
            // The instance runs in its checkout; a directory names a place inside it.
            if let dir = workingDirectory, dir.hasPrefix("/") || dir.split(separator: "/").contains("..") {
                throw .badSourceDirectory(dir)
            }
        }
    }

    /// 1-64 letters, digits, `_`, `-`, starting with a letter or digit (no `.`: it
    /// separates a workload from its instance number, `web.2`).
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.utf8.count <= 64 else { return false }
        func ok(_ c: Unicode.Scalar) -> Bool {
            ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c)
        }
        return ok(first) && name.unicodeScalars.allSatisfy { ok($0) || $0 == "_" || $0 == "-" }
    }

    /// A URL `git` fetches: `https://`, `http://`, `ssh://`, `git://`, `file://`, or `user@host:path`.
    static func isGitURL(_ url: String) -> Bool {
        if url.hasPrefix("-") || url.contains(" ") || url.isEmpty { return false }
        for scheme in ["https://", "http://", "ssh://", "git://", "file://"] where url.hasPrefix(scheme) {
            return url.count > scheme.count
        }
        guard let at = url.firstIndex(of: "@"), let colon = url[at...].firstIndex(of: ":") else { return false }
        return at > url.startIndex && url.index(after: at) < colon && url.index(after: colon) < url.endIndex
    }
}

/// Why a workload spec was refused; each says what to change.
public enum SpecError: Error, Equatable, CustomStringConvertible {
    case badName(String)
    case emptyCommand
    case tooMany(String, Int, Int)
    case badCount(Int, max: Int)
    case badResources
    case fieldTooLong(String, limit: Int)
    case badEnvironment(String)
    case unknownTemplateVariable(String)
    case unclosedTemplate(String)
    case badRestart(String)
    case badDuration(String)
    case badSource(String)
    case badSourceDirectory(String)
    case badConstraint(String)
    case badStrategy(String)
    case badOnHeal(String)

    /// The metric label of the refusal.
    public var reason: String {
        switch self {
        case .badName: "bad_name"
        case .emptyCommand: "empty_command"
        case .tooMany: "too_many"
        case .badCount: "bad_count"
        case .badResources: "bad_resources"
        case .fieldTooLong: "field_too_long"
        case .badEnvironment: "bad_environment"
        case .unknownTemplateVariable, .unclosedTemplate: "bad_template"
        case .badRestart: "bad_restart"
        case .badDuration: "bad_duration"
        case .badSource, .badSourceDirectory: "bad_source"
        case .badConstraint: "bad_constraint"
        case .badStrategy: "bad_strategy"
        case .badOnHeal: "bad_on_heal"
        }
    }

    public var description: String {
        switch self {
        case let .badName(n): "workload name \"\(n)\": use 1-64 letters, digits, _ or -, starting with a letter or digit"
        case .emptyCommand: "no command: give one after --, e.g. meshctl run web -- python3 -m http.server"
        case let .tooMany(what, n, limit): "\(n) \(what): at most \(limit)"
        case let .badCount(n, max): "count \(n): use 0-\(max)"
        case .badResources: "resources must not be negative"
        case let .fieldTooLong(f, limit): "\"\(f)...\" is longer than \(limit) bytes"
        case let .badEnvironment(k): "environment name \"\(k)\": must be non-empty and hold no ="
        case let .unknownTemplateVariable(v): "unknown template variable {{\(v)}}: use {{instance}}, {{node}}, {{name}}, {{peers}} or {{var:KEY}}"
        case let .unclosedTemplate(a): "\"\(a)\" opens {{ without closing it"
        case let .badRestart(r): "restart policy \"\(r)\": use always, on-failure or never"
        case let .badDuration(what): "\(what) must not be negative"
        case let .badSource(s): "\"\(s)\" is not a git URL and ref (https://, ssh://, git://, file:// or user@host:path)"
        case let .badSourceDirectory(d): "--dir \(d) with --git: give a directory inside the checkout (relative, no ..)"
        case let .badConstraint(c): "constraint \"\(c)\": use KEY=VALUE, KEY!=VALUE or KEY in A,B (KEY: name, arch or a tag)"
        case let .badStrategy(s): "strategy \"\(s)\": use spread or binpack"
        case let .badOnHeal(p): "on_heal \"\(p)\": use keep_original, keep_replacement or longest_running"
        }
    }
}
