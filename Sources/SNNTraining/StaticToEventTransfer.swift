import Foundation
import SNNData
import SNNLayers
import SNNModels
import SNNNeurons
import SNNTensor

/// The step weights w_t of the transfer loss.
public enum TransferStepWeights: Sendable, Equatable {
    /// w_t = σ(c_t), c_t learned from 1 (no weight decay on c_t).
    case learned
    /// The same constant w for every step (in [0, 1]).
    case fixed(Float)
}

/// Static-to-event knowledge transfer for a run (METHODS.md §4): labelled static images of the event
/// classes, paired with the event samples, train a second head on the shared extractor and pull the
/// two domains' features together.
///
/// The static and the event sequences run through the extractor one after the other, each from rest,
/// so batch norm normalises each with its own batch statistics in training but keeps one set of
/// running statistics for both (as the released code does); inference sees event input only.
public struct TransferOptions: Sendable, Equatable {
    /// The static image set (its training split provides the images).
    public var source: DatasetName
    /// Where `source` lives.
    public var dataDirectory: String?
    public var alignment: AlignmentMeasure = .cka
    /// The weight of L_KT in L = L_s + L_e + weight·L_KT (0.5 in the paper).
    public var alignmentWeight: Float = 0.5
    public var stepWeights: TransferStepWeights = .learned
    /// Sliding training: replace static inputs by their event partners with probability (b/B)³.
    public var sliding = true
    /// Present static images as 1 − V (black-on-white sets, to match event polarity).
    public var invertStatic = false

    /// λ of the TET-form MSE-to-threshold term of L_s and L_e.
    public static let lambda: Float = 1e-3

    public init(source: DatasetName, dataDirectory: String? = nil) {
        self.source = source
        self.dataDirectory = dataDirectory
    }

    /// The JSON form (`config.json`'s "transfer"); "step_weights" is "learned" or the fixed weight.
    public var dictionary: [String: Any] {
        var d: [String: Any] = [
            "source": source.rawValue, "alignment": alignment.rawValue,
            "alignment_weight": Double(alignmentWeight), "sliding": sliding,
            "invert_static": invertStatic,
        ]
        if let dataDirectory { d["data_dir"] = dataDirectory }
        switch stepWeights {
        case .learned: d["step_weights"] = "learned"
        case .fixed(let w): d["step_weights"] = Double(w)
        }
        return d
    }

    /// Reads ``dictionary`` back; nil when something is missing or of the wrong type.
    public init?(dictionary d: [String: Any]) {
        guard let source = (d["source"] as? String).flatMap(DatasetName.init(rawValue:)),
            let alignment = (d["alignment"] as? String).flatMap(AlignmentMeasure.init(rawValue:)),
            let weight = (d["alignment_weight"] as? NSNumber)?.floatValue, let sliding = d["sliding"] as? Bool,
            let invert = d["invert_static"] as? Bool
        else { return nil }
        if let directory = d["data_dir"], !(directory is String) { return nil }
        self.init(source: source, dataDirectory: d["data_dir"] as? String)
        self.alignment = alignment
        alignmentWeight = weight
        self.sliding = sliding
        invertStatic = invert
        switch d["step_weights"] {
        case let name as String where name == "learned": stepWeights = .learned
        case let w as NSNumber where !(w is Bool): stepWeights = .fixed(w.floatValue)
        default: return nil
        }
    }
}

/// For each event sample, a random static training image of the same class.
///
/// Draws come from a generator seeded with (seed, epoch, batch), so the pairs of any batch are
/// reproducible from the run's seed alone (and a resumed run pairs as the uninterrupted one did).
public struct StaticPairing: Sendable {
    /// The static images' indices by class.
    public let indicesByClass: [[Int]]

    /// Groups `staticLabels` by class; every one of the `classes` event classes needs a static image.
    /// When both sides name their classes (class folders), the names must be equal, label by label.
    public init(
        staticLabels: [Int], staticClassCount: Int, eventClassCount: Int, source: String, target: String,
        staticClassNames: [String]? = nil, eventClassNames: [String]? = nil
    ) throws(SNNError) {
        guard staticClassCount == eventClassCount else {
            throw SNNError(
                .invalidArgument,
                "--transfer-from \(source) has \(staticClassCount) classes, \(target) has "
                    + "\(eventClassCount): the static classes must be the event classes")
        }
        if let staticClassNames, let eventClassNames,
            let label = staticClassNames.indices.first(where: { staticClassNames[$0] != eventClassNames[$0] })
        {
            throw SNNError(
                .invalidArgument,
                "--transfer-from \(source)'s class \(label) is "
                    + "\(staticClassNames[label]), \(target)'s is \(eventClassNames[label]): the static "
                    + "classes must be the event classes, in the same (name) order")
        }
        var byClass = [[Int]](repeating: [], count: eventClassCount)
        for (i, label) in staticLabels.enumerated() where label >= 0 && label < eventClassCount {
            byClass[label].append(i)
        }
        if let empty = byClass.firstIndex(where: \.isEmpty) {
            throw SNNError(.invalidArgument, "--transfer-from \(source) has no training image of class \(empty)")
        }
        indicesByClass = byClass
    }

    /// One static image index per label, drawn uniformly within the label's class.
    public func partners(for labels: [Int], using generator: inout RandomGenerator) -> [Int] {
        labels.map { label in
            let pool = indicesByClass[label]
            return pool[Int(generator.next() % UInt64(pool.count))]
        }
    }

    /// The generator of batch `index` in `epoch`, derived from `seed`.
    public static func generator(seed: UInt64, epoch: Int, batch index: Int) -> RandomGenerator {
        RandomGenerator(
            seed: seed ^ 0x5741_7449_4321_7E57 &+ UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15
                &+ UInt64(index) &* 0xBF58_476D_1CE4_E5B9)
    }
}

/// Sliding training: at global batch b of B_total (b counted from 0 over all epochs), each static
/// input of the batch is replaced by its event partner with probability P = (b / B_total)³.
public enum SlidingReplacement {
    public static func probability(batch b: Int, of total: Int) -> Double {
        precondition(total >= 1 && b >= 0, "sliding replacement: batch \(b) of \(total)")
        let fraction = min(Double(b) / Double(total), 1)
        return fraction * fraction * fraction
    }

    /// Which of `count` static inputs to replace, each with probability `probability`.
    public static func mask(count: Int, probability: Double, using generator: inout RandomGenerator) -> [Bool] {
        (0..<count).map { _ in Double(generator.next() >> 11) / Double(1 << 53) < probability }
    }
}

/// Static images as event-shaped frames: resized to the event size, HSV's V (the maximum over the
/// colour channels; grey stays as is), optionally inverted, the same frame in both polarity channels
/// at every step, no normalisation.
public enum StaticFrames {
    /// `images` `[B, C, h, w]` (C = 1 or 3, values in [0, 1]) as `[B, T, 2, H, W]`.
    public static func frames(_ images: Tensor, timeSteps: Int, height: Int, width: Int, invert: Bool) -> Tensor {
        precondition(
            images.rank == 4 && (images.shape[1] == 1 || images.shape[1] == 3),
            "static frames: images must be [B, 1 or 3, H, W], got \(images.shape)")
        let b = images.shape[0]
        var value = images.shape[1] == 3 ? images.max(alongAxis: 1, keepingDimensions: true) : images
        if value.shape[2] != height || value.shape[3] != width {
            value = value.interpolated(size: (height, width), mode: .bilinear)
        }
        if invert { value = 1 - value }
        return value.reshaped(to: [b, 1, 1, height, width]).broadcast(to: [b, timeSteps, 2, height, width])
    }

    /// `frames` with sample i replaced by `events`' sample i where `replace[i]` (both `[B, ...]`).
    public static func replacing(_ frames: Tensor, with events: Tensor, where replace: [Bool]) -> Tensor {
        precondition(
            frames.shape == events.shape && replace.count == frames.shape[0],
            "static frames: cannot replace \(frames.shape) by \(events.shape) with \(replace.count) flags")
        guard replace.contains(true) else { return frames }
        let per = frames.count / max(frames.shape[0], 1)
        var out = Tensor(shape: frames.shape, scalars: frames.scalars)
        events.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { target in
                for (i, flag) in replace.enumerated() where flag {
                    for j in 0..<per { target[i * per + j] = source[i * per + j] }
                }
            }
        }
        return out
    }
}

/// The parts of the transfer loss of one batch (METHODS.md §4), T the number of steps:
/// `L = L_s + L_e + κ·L_KT` with κ = `alignmentWeight` (0.5),
/// `L_s = (1/T)·Σ_t [(1−λ)·CE(h_s(t), y) + λ·MSE_t(h_s)]`,
/// `L_e = (1/T)·Σ_t (1 − w_t)·[(1−λ)·CE(h_e(t), y) + λ·MSE_t(h_e)]`,
/// `L_KT = (1/T)·Σ_t w_t·L_DA[t]`, MSE_t the mean squared distance of step t's logits to 1 (TET).
/// Hence ∂L/∂c_t = σ′(c_t)/T·[κ·L_DA[t] − (1−λ)·CE_t − λ·MSE_t] for learned w_t = σ(c_t).
///
/// - Parameters:
///   - staticLogits, eventLogits: per-step logits `[T, B, classes]` of h_s and h_e.
///   - alignment: L_DA per step, `[T]`.
///   - stepWeights: w_t, `[T]`.
public func staticToEventLoss(
    staticLogits: Tensor, eventLogits: Tensor, labels: [Int], alignment: Tensor,
    stepWeights: Tensor, alignmentWeight: Float = 0.5, lambda: Float = TransferOptions.lambda,
    labelSmoothing: Float = 0
) -> Tensor {
    let t = eventLogits.shape[0]
    precondition(
        staticLogits.shape == eventLogits.shape && alignment.shape == [t] && stepWeights.shape == [t],
        "transfer loss: logits \(staticLogits.shape), \(eventLogits.shape), alignment \(alignment.shape) and "
            + "step weights \(stepWeights.shape) do not fit T = \(t)")
    let staticTerm = temporalEfficientTrainingLoss(
        perStepLogits: staticLogits, labels: labels,
        labelSmoothing: labelSmoothing, lambda: lambda)
    let eventTerms = Tensor.stack(
        (0..<t).map { step in
            temporalEfficientTrainingLoss(
                perStepLogits: eventLogits.slice(step..<(step + 1), alongAxis: 0), labels: labels,
                labelSmoothing: labelSmoothing, lambda: lambda)
        })
    let eventTerm = ((1 - stepWeights) * eventTerms).mean()
    let transferTerm = (stepWeights * alignment).mean()
    return staticTerm + eventTerm + transferTerm * alignmentWeight
}
