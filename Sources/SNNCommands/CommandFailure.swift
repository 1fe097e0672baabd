/// A library error shown as one line, with a non-zero exit.
struct CommandFailure: Error, CustomStringConvertible {
    let message: String
    init(_ error: any Error) { message = "\(error)" }
    var description: String { message }
}
