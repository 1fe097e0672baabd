import Foundation

/// A running lower bound on the memory a computation needs, checked against what the machine has
/// before anything large is allocated.
///
/// Each item is a product of element counts (checked for overflow) times 4 bytes (Float32). A
/// request that overflows, or whose total exceeds the available bytes, is refused with a message
/// that names the options that made it large and the estimate, so a user who asks for
/// `--time-steps 1000000` gets one line instead of an out-of-memory kill.
public struct MemoryBudget: Sendable {
    /// The machine's physical memory.
    public static var physicalBytes: Int { MemoryEstimate.physicalMemory }

    public let availableBytes: Int
    /// The bytes counted so far.
    public private(set) var totalBytes = 0
    private var items: [String] = []

    public init(availableBytes: Int = MemoryBudget.physicalBytes) {
        self.availableBytes = availableBytes
    }

    /// The product of `factors`, or nil when it overflows `Int` (or a factor is negative).
    public static func product(_ factors: [Int]) -> Int? { MemoryEstimate.checkedProduct(factors) }

    /// Counts `factors`' product of Float32 elements for `what`; throws when it overflows or the
    /// total passes the available memory. `flags` name the options that set the factors.
    public mutating func add(_ what: String, factors: [Int], flags: [String]) throws(SNNError) {
        let options = flags.joined(separator: ", ")
        guard let elements = Self.product(factors), let bytes = Self.product([elements, 4]),
            case let (total, overflow) = totalBytes.addingReportingOverflow(bytes), !overflow
        else {
            throw SNNError(
                .invalidArgument,
                "\(what) would need more than \(Self.format(Int.max)) — far beyond this machine's \(Self.format(availableBytes)); lower \(options)"
            )
        }
        totalBytes = total
        items.append("\(what) \(Self.format(bytes))")
        if totalBytes > availableBytes {
            throw SNNError(
                .invalidArgument,
                "this run needs at least \(Self.format(totalBytes)) (\(items.joined(separator: ", "))), more than this machine's \(Self.format(availableBytes)) of memory; lower \(options)"
            )
        }
    }

    /// `bytes` as ``MemoryEstimate/formatted(_:)`` writes them ("35.4 GB").
    public static func format(_ bytes: Int) -> String { MemoryEstimate.formatted(bytes) }
}
