import SNNTensor

/// Places each step's F audio channels on Spikformer's event-frame input `[2, 16, 16]`, so a model
/// built for event cameras takes speech (METHODS.md §5 maps SHD's 700 channels to `[T, 2, 16, 16]`).
///
/// The grid has 512 cells, filled in row-major order: the value that lands in cell `g` sits at
/// polarity `g / 256`, row `(g % 256) / 16`, column `g % 16`. Which value lands in cell `g` is the
/// ``Placement``'s choice:
/// - ``Placement/resampled``: the F channels are linearly interpolated onto 512 (PyTorch's
///   `F.interpolate(mode="linear", align_corners=False)`): cell g reads position
///   `s = max(0, (g + 0.5)·F/512 − 0.5)` between channels `⌊s⌋` and `min(⌊s⌋ + 1, F − 1)`. This is
///   METHODS.md's interpolation for the 700 cochlear channels of SHD and SSC, whose neighbours are
///   neighbouring frequencies; at F = 512 it is the identity.
/// - ``Placement/padded``: channel f goes to cell f and the cells from F on hold zeros. This is for
///   short feature vectors (FSDD's 13 MFCCs), which interpolation would smear into 512 copies of
///   nearly the same values; more than 512 channels do not fit and are refused by ``check(channels:)``.
public struct SpeechGrid: Sendable, Equatable {
    /// How channels map to grid cells.
    public enum Placement: String, Sendable, Equatable, CaseIterable {
        case resampled, padded
    }

    /// The shape of one step on the grid.
    public static let shape = [2, 16, 16]
    /// The number of cells of the grid.
    public static let cells = 512

    public var placement: Placement

    public init(_ placement: Placement) {
        self.placement = placement
    }

    /// Refuses a channel count the placement cannot map; the message says why.
    public func check(channels: Int) throws(SNNError) {
        guard channels >= 1 else {
            throw SNNError(.invalidArgument, "the speech grid needs at least one channel per step")
        }
        if placement == .padded && channels > Self.cells {
            throw SNNError(
                .invalidArgument,
                "the speech grid places one channel per cell of 2×16×16 = \(Self.cells); "
                    + "\(channels) channels per step do not fit")
        }
    }

    /// For each grid cell, the two channels it reads and the weight of the second (padded: the
    /// channel itself with weight 0, or nil past the last channel).
    func sources(channels: Int) -> [(Int, Int, Float)?] {
        (0..<Self.cells).map { g in
            switch placement {
            case .padded:
                return g < channels ? (g, g, 0) : nil
            case .resampled:
                let position = max(0, (Double(g) + 0.5) * Double(channels) / Double(Self.cells) - 0.5)
                let low = min(Int(position), channels - 1)
                return (low, min(low + 1, channels - 1), Float(position - Double(low)))
            }
        }
    }

    /// `[..., F]` → `[..., 2, 16, 16]`. Inputs carry no gradient, so this is a plain reindexing.
    public func map(_ input: Tensor) -> Tensor {
        let channels = input.shape.last ?? 0
        precondition(
            input.rank >= 1 && channels >= 1 && (placement == .resampled || channels <= Self.cells),
            "SpeechGrid.map: \(placement) placement cannot map \(input.shape)")
        let x = input.detached.scalars, rows = x.count / channels, table = sources(channels: channels)
        var out = [Float](repeating: 0, count: rows * Self.cells)
        for r in 0..<rows {
            let from = r * channels, to = r * Self.cells
            for (g, source) in table.enumerated() {
                guard let (low, high, weight) = source else { continue }
                out[to + g] = x[from + low] * (1 - weight) + x[from + high] * weight
            }
        }
        return Tensor(shape: Array(input.shape.dropLast()) + Self.shape, scalars: out)
    }
}
