import Foundation

/// Sizes of what a command is about to allocate, computed before allocating it.
///
/// User input (a frame count, a sensor size, an image scale) multiplies into buffer sizes; an
/// unchecked product traps on overflow, and a checked but huge one makes the allocation abort the
/// process. Callers compute the size with ``checkedProduct(_:)`` and compare it with
/// ``physicalMemory`` first, so that the user gets one line naming the flag and the size instead.
///
/// ```swift
/// guard let bytes = MemoryEstimate.checkedProduct([frames, 2, height, width, 4]) else { … }  // overflow
/// if let excess = MemoryEstimate.excess(bytes) { throw ValidationError("--frames \(frames): frames \(excess)") }
/// ```
public enum MemoryEstimate {
    /// The product of `factors`, or `nil` when a factor is negative or the product overflows `Int`.
    /// The product of no factors is 1; a zero factor gives 0 whatever the others are.
    public static func checkedProduct(_ factors: [Int]) -> Int? {
        guard factors.allSatisfy({ $0 >= 0 }) else { return nil }
        if factors.contains(0) { return 0 }
        var product = 1
        for factor in factors {
            let (next, overflow) = product.multipliedReportingOverflow(by: factor)
            if overflow { return nil }
            product = next
        }
        return product
    }

    /// The sum of `terms`, or `nil` when a term is `nil` or negative, or the sum overflows `Int`.
    public static func checkedSum(_ terms: [Int?]) -> Int? {
        var sum = 0
        for term in terms {
            guard let term, term >= 0 else { return nil }
            let (next, overflow) = sum.addingReportingOverflow(term)
            if overflow { return nil }
            sum = next
        }
        return sum
    }

    /// The machine's physical memory in bytes.
    public static var physicalMemory: Int { Int(clamping: ProcessInfo.processInfo.physicalMemory) }

    /// `nil` when `bytes` fit in ``physicalMemory``, otherwise a phrase for an error message:
    /// "would take 35.4 GB, more than the 24.0 GB of memory of this machine".
    public static func excess(_ bytes: Int) -> String? {
        guard bytes > physicalMemory else { return nil }
        return "would take \(formatted(bytes)), more than the \(formatted(physicalMemory)) of memory of this machine"
    }

    /// `bytes` in decimal units with three significant digits at most: "512 B", "1.50 MB", "35.4 GB".
    public static func formatted(_ bytes: Int) -> String {
        let units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]
        var value = Double(bytes), unit = 0
        while value >= 999.5 && unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        if unit == 0 { return "\(bytes) B" }
        return String(format: value < 9.995 ? "%.2f %@" : value < 99.95 ? "%.1f %@" : "%.0f %@", value, units[unit])
    }
}
