import SNNLayers
import SNNTensor

/// The temporal interaction module (TIM; Shen et al., IJCAI 2024): lets each step's query of a spiking
/// self-attention see the previous steps. On spike queries Q `[T, N, H, D, L]` (H heads of D features
/// over L tokens), with Q̃[0] = Q[0] and, for t ≥ 1,
///
///     Q̃[t] = LIF_out( α·LIF_in(Conv1d_k(Q̃[t−1])) + (1 − α)·Q[t] )
///
/// where Conv1d_k has kernel k, padding k/2 and a bias, and the two neurons keep their membrane
/// potential across t (they start from rest at t = 1). The recurrence is differentiable: gradients
/// flow through both neurons' surrogates and the convolution into Q and every earlier step.
///
/// The convolution slides along the tokens with the D features as channels (``Axis/tokens``, any
/// token count), or — the released code's variant — along the D features with the tokens as channels
/// (``Axis/features``), which only exists when tokens = D. Its D·D·k + D parameters are TIM's whole
/// cost (1296 for D = 16, k = 5).
///
/// Thresholds matter (METHODS.md §5): at 1.0 / 1.0 (what the released code runs) and at the
/// authors' intended 0.3 / 0.5, Q̃ is silent after its first step at initialisation, because a lone
/// Q spike lifts LIF_out's τ = 2 membrane to (1 − α)/2 only. The defaults 0.3 inner and
/// (1 − α)/τ = 0.25 outer let every Q spike through and history add spikes; see ``Thresholds``.
public final class TemporalInteraction: Module, Layer, SpikeEmitting {
    /// The axis the convolution slides along.
    public enum Axis: String, Sendable, CaseIterable {
        /// Along the L tokens with the D features of a head as channels (works for any size).
        case tokens
        /// Along the D features with the L tokens as channels: the released code's variant, which
        /// needs tokens = D.
        case features
    }

    /// The firing thresholds of LIF_in and LIF_out.
    public struct Thresholds: Sendable, Equatable, CustomStringConvertible {
        public var inner: Float
        public var outer: Float

        public init(inner: Float, outer: Float) {
            self.inner = inner
            self.outer = outer
        }

        /// 0.3 inner and (1 − α)/τ = 0.25 outer (α = 0.5, τ = 2): every Q spike reaches Q̃.
        public static let standard = Thresholds(inner: 0.3, outer: 0.25)
        /// 1.0 / 1.0: what the released code runs (its intended values are ignored); Q̃[t ≥ 1] = 0.
        public static let released = Thresholds(inner: 1, outer: 1)
        /// 0.3 / 0.5: what the released code means to set; silences Q̃ after step 0 at initialisation.
        public static let intended = Thresholds(inner: 0.3, outer: 0.5)

        /// `IN,OUT`, `released`, `intended` or `default`; nil when the text is none of these.
        public init?(_ text: String) {
            switch text.lowercased() {
            case "released": self = .released
            case "intended": self = .intended
            case "default", "standard": self = .standard
            default:
                let parts = text.split(separator: ",", omittingEmptySubsequences: false)
                guard parts.count == 2, let inner = Float(parts[0].trimmingCharacters(in: .whitespaces)),
                    let outer = Float(parts[1].trimmingCharacters(in: .whitespaces))
                else { return nil }
                self.init(inner: inner, outer: outer)
            }
        }

        /// The preset's name, or `IN,OUT`.
        public var description: String {
            switch self {
            case .released: "released"
            case .intended: "intended"
            default: "\(inner),\(outer)"
            }
        }
    }

    /// Conv1d(D → D, kernel k, padding k/2, bias).
    public let convolution: Conv1d
    /// LIF_in: fires on the convolved previous Q̃.
    public let inputNeuron: any SpikingNeuron
    /// LIF_out: fires on the mix of LIF_in's spikes and the current Q.
    public let outputNeuron: any SpikingNeuron
    /// The weight α of the history (1 − α for the current Q).
    public let alpha: Float
    public let axis: Axis
    /// D, the features of one head.
    public let headDimension: Int
    /// L, the tokens.
    public let tokens: Int
    /// Spike totals of Q̃ (every step, step 0 included), when enabled.
    public var statistics: SpikeStatistics?

    /// A TIM for heads of `headDimension` features over `tokens` tokens.
    ///
    /// The neurons must start from rest at every call and step from their own state (IF, LIF, PLIF);
    /// their thresholds are the module's (``Thresholds``). Throws when the released feature-axis
    /// variant is asked for with tokens ≠ D, or when α or k is out of range — values that come from
    /// a user.
    public init(
        headDimension: Int, tokens: Int, alpha: Float = 0.5, kernelSize: Int = 5, axis: Axis = .tokens,
        inputNeuron: any SpikingNeuron, outputNeuron: any SpikingNeuron
    ) throws(SNNError) {
        try Self.check(headDimension: headDimension, tokens: tokens, alpha: alpha, kernelSize: kernelSize, axis: axis)
        // Along the features the tokens are the channels; tokens = D, so the layer has the same shape.
        convolution = Conv1d(headDimension, headDimension, kernelSize: kernelSize, padding: kernelSize / 2)
        self.inputNeuron = inputNeuron
        self.outputNeuron = outputNeuron
        self.alpha = alpha
        self.axis = axis
        self.headDimension = headDimension
        self.tokens = tokens
        super.init()
    }

    /// Throws what ``init(headDimension:tokens:alpha:kernelSize:axis:inputNeuron:outputNeuron:)``
    /// would refuse, without building anything (model footprints check configurations this way).
    public static func check(
        headDimension: Int, tokens: Int, alpha: Float, kernelSize: Int,
        axis: Axis
    ) throws(SNNError) {
        guard headDimension >= 1 && tokens >= 1 else {
            throw SNNError(
                .invalidArgument,
                "TIM needs at least one feature and one token, got D = \(headDimension), \(tokens) tokens")
        }
        guard alpha.isFinite && alpha >= 0 && alpha <= 1 else {
            throw SNNError(.invalidArgument, "TIM's α must be in [0, 1], got \(alpha)")
        }
        // An even kernel with padding k/2 would change the length, and the recurrence needs it kept.
        guard kernelSize >= 1 && kernelSize % 2 == 1 else {
            throw SNNError(.invalidArgument, "TIM's kernel size must be odd and ≥ 1, got \(kernelSize)")
        }
        if axis == .features && tokens != headDimension {
            throw SNNError(
                .invalidArgument,
                """
                TIM along the features (the released variant) uses the \(tokens) tokens as the channels of a \
                convolution over the D = \(headDimension) features of a head, so it needs tokens = D; use the \
                token axis, or an input size and head count that give \(headDimension) tokens
                """)
        }
    }

    /// The number of trainable parameters for heads of D features and kernel k: D·D·k + D.
    public static func parameterCount(headDimension d: Int, kernelSize k: Int) -> Int { d * d * k + d }

    /// Q̃ `[T, N..., D, L]` from spike queries Q of the same shape (features before tokens).
    public func callAsFunction(_ queries: Tensor) -> Tensor {
        precondition(
            queries.rank >= 3 && queries.shape[0] >= 1
                && Array(queries.shape.suffix(2)) == [headDimension, tokens],
            "TemporalInteraction: input must be [T, ..., \(headDimension), \(tokens)], got \(queries.shape)")
        var outputs: [Tensor] = [queries.selecting(0)]
        outputs.reserveCapacity(queries.shape[0])
        var innerMembrane: Tensor?, outerMembrane: Tensor?
        var innerSpikes: [Tensor] = []
        for t in 1..<queries.shape[0] {
            let history = convolve(outputs[t - 1])
            let vIn = innerMembrane ?? inputNeuron.restingState(like: history)
            let hIn = inputNeuron.charge(membrane: vIn, input: history)
            let sIn = inputNeuron.fire(hIn)
            innerMembrane = inputNeuron.reset(hIn, spikes: sIn)
            let mixed = sIn * alpha + queries.selecting(t) * (1 - alpha)
            let vOut = outerMembrane ?? outputNeuron.restingState(like: mixed)
            let hOut = outputNeuron.charge(membrane: vOut, input: mixed)
            let sOut = outputNeuron.fire(hOut)
            outerMembrane = outputNeuron.reset(hOut, spikes: sOut)
            outputs.append(sOut)
            if inputNeuron.statistics != nil { innerSpikes.append(sIn.detached) }
        }
        let result = Tensor.stack(outputs)
        let perSample =
            headDimension * tokens * (queries.rank > 4 ? queries.shape[2..<(queries.rank - 2)].reduce(1, *) : 1)
        if let statistics { statistics.add(spikes: result, neuronsPerSample: perSample) }
        if let statistics = outputNeuron.statistics, result.shape[0] > 1 {
            statistics.add(spikes: result.slice(1..<result.shape[0]), neuronsPerSample: perSample)
        }
        if let statistics = inputNeuron.statistics, !innerSpikes.isEmpty {
            statistics.add(spikes: Tensor.stack(innerSpikes), neuronsPerSample: perSample)
        }
        return result
    }

    /// Conv1d_k of one step of Q̃ `[N..., D, L]`, along the chosen axis.
    func convolve(_ step: Tensor) -> Tensor {
        switch axis {
        case .tokens: convolution(step)
        case .features: convolution(step.transposed()).transposed()
        }
    }
}
