/// The one error type Ember throws for bad input: a single line that names the file, line or flag.
/// The CLI prints `error: <message>` and exits non-zero; library users can match on `message`.
public struct EmberError: Error, CustomStringConvertible, Equatable, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
