/// How `cctrace report` renders: human text, or JSON for tools.
public struct ReportFormat: Hashable, Sendable, CustomStringConvertible {
    /// The name used on the command line.
    public let rawValue: String

    /// A format by its command-line name, or `nil` if unknown.
    public init?(rawValue: String) {
        guard Self.all.contains(where: { $0.rawValue == rawValue }) else { return nil }
        self.rawValue = rawValue
    }

    private init(_ rawValue: String) { self.rawValue = rawValue }

    /// Text for a terminal, 80 columns wide.
    public static let text = ReportFormat("text")
    /// JSON with a versioned schema (`schema_version`).
    public static let json = ReportFormat("json")
    /// Markdown, for pasting into a pull request.
    public static let markdown = ReportFormat("markdown")
    /// Every format.
    public static let all: [ReportFormat] = [.text, .json, .markdown]

    public var description: String { rawValue }
}
