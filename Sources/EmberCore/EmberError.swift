/// The one error type Ember throws for bad input: a single line that names the file, line or flag.
/// The CLI prints `error: <message>` and exits non-zero; library users can match on `message`.
public struct EmberError: Error, CustomStringConvertible, Equatable, Sendable {
    public let message: String
    /// In data-parallel training: the error follows from values every rank shares (the global loss, the
    /// gradient norm after the all-reduce), so every rank raises it at the same point and the job can end
    /// in order, printed once; any other error of one rank ends the whole job at once.
    public var sameOnEveryRank = false
    public init(_ message: String, sameOnEveryRank: Bool = false) {
        self.message = message
        self.sameOnEveryRank = sameOnEveryRank
    }
    public var description: String { message }
}
