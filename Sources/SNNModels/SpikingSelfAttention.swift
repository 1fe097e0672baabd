import SNNLayers
import SNNNeurons
import SNNTensor

/// How a Spikformer's attention builds its temporal interaction module (``TemporalInteraction``).
public struct TemporalInteractionConfiguration: Sendable, Equatable {
    /// The weight α of the history.
    public var alpha: Float = 0.5
    /// The convolution's kernel size k (odd).
    public var kernelSize = 5
    public var axis: TemporalInteraction.Axis = .tokens
    public var thresholds: TemporalInteraction.Thresholds = .standard

    public init(
        alpha: Float = 0.5, kernelSize: Int = 5, axis: TemporalInteraction.Axis = .tokens,
        thresholds: TemporalInteraction.Thresholds = .standard
    ) {
        self.alpha = alpha
        self.kernelSize = kernelSize
        self.axis = axis
        self.thresholds = thresholds
    }

    /// A TIM for heads of `headDimension` features over `tokens` tokens. Its two neurons are the
    /// model's neuron (a LIF with the same τ and surrogate when the model's neuron sees all steps at
    /// once, since TIM steps) with TIM's thresholds.
    public func make(headDimension: Int, tokens: Int, neuron: NeuronConfiguration) throws(SNNError)
        -> TemporalInteraction
    {
        try TemporalInteraction(
            headDimension: headDimension, tokens: tokens, alpha: alpha, kernelSize: kernelSize,
            axis: axis, inputNeuron: Self.neuron(neuron, threshold: thresholds.inner),
            outputNeuron: Self.neuron(neuron, threshold: thresholds.outer))
    }

    /// The stepwise neuron TIM uses for a model built with `neuron`.
    static func neuron(_ neuron: NeuronConfiguration, threshold: Float) -> any SpikingNeuron {
        var n = neuron
        if !n.isStepwise { n.kind = .leakyIntegrateAndFire }
        n.threshold = threshold
        return n.makeStepwise()
    }
}

/// Spiking self-attention (SSA; Zhou et al., Spikformer) on tokens `[T, N, C, L]`:
///
///     Q, K, V = neuron(BN(Conv1×1(x)))            (no bias)
///     A_h = (Q_h · K_hᵀ) · V_h · scale             per head h of D = C/H features, no softmax
///     y = neuron(BN(Conv1×1(neuron(A))))           (the projection has a bias)
///
/// Spikes make Q·Kᵀ non-negative, so no softmax is needed. With a ``TemporalInteraction`` the
/// attention uses Q̃ = TIM(Q) instead of Q. The heads and time steps are the batch axes of two
/// batched GEMMs; Q, K and V stay in their channel-first layout `[T, N, H, D, L]`.
public final class SpikingSelfAttention: Module, Layer {
    public let query: Sequential, key: Sequential, value: Sequential
    /// TIM on the queries, or nil.
    public let temporalInteraction: TemporalInteraction?
    /// The neuron after the attention product.
    public let attentionNeuron: any Layer
    /// Conv1×1 (bias) → BN → neuron.
    public let projection: Sequential
    public let heads: Int
    public let scale: Float
    public let tokens: Int

    /// SSA of `dimension` channels in `heads` heads over `tokens` tokens, with the model's neurons and
    /// TIM built from `temporalInteraction`. Throws when the heads do not divide the dimension or the
    /// TIM cannot be built for this size.
    public convenience init(
        dimension: Int, heads: Int, tokens: Int, neuron: NeuronConfiguration = .spikformer,
        scale: Float = 0.25, temporalInteraction: TemporalInteractionConfiguration? = nil
    ) throws(SNNError) {
        let tim = try temporalInteraction?.make(
            headDimension: dimension / max(heads, 1), tokens: tokens, neuron: neuron)
        try self.init(
            dimension: dimension, heads: heads, tokens: tokens, scale: scale, temporalInteraction: tim,
            neuron: { neuron.make() })
    }

    /// SSA whose neuron layers come from `neuron` (called once per neuron layer), with a ready TIM.
    public init(
        dimension: Int, heads: Int, tokens: Int, scale: Float = 0.25, temporalInteraction: TemporalInteraction?,
        neuron: () -> any Layer
    ) throws(SNNError) {
        guard heads >= 1 && dimension >= 1 && dimension % heads == 0 else {
            throw SNNError(
                .invalidArgument, "the \(heads) attention heads must divide the embedding dimension \(dimension)")
        }
        if let temporalInteraction {
            precondition(
                temporalInteraction.headDimension == dimension / heads && temporalInteraction.tokens == tokens,
                "SpikingSelfAttention: TIM is for D = \(temporalInteraction.headDimension), L = \(temporalInteraction.tokens)"
            )
        }
        func branch(bias: Bool) -> Sequential {
            Sequential([
                Conv1d(dimension, dimension, kernelSize: 1, bias: bias),
                BatchNorm1d(dimension, channelAxisFromEnd: -2), neuron(),
            ])
        }
        query = branch(bias: false)
        key = branch(bias: false)
        value = branch(bias: false)
        self.temporalInteraction = temporalInteraction
        attentionNeuron = neuron()
        projection = branch(bias: true)
        self.heads = heads
        self.scale = scale
        self.tokens = tokens
        super.init()
    }

    /// `[T, N, C, L]` → `[T, N, C, L]`.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        precondition(
            input.rank == 4 && input.shape[3] == tokens,
            "SpikingSelfAttention: input must be [T, N, C, \(tokens)], got \(input.shape)")
        let (steps, batch, channels) = (input.shape[0], input.shape[1], input.shape[2])
        // Channel c = h·D + d, so a reshape splits the heads without moving data.
        let perHead = [steps, batch, heads, channels / heads, tokens]
        var q = query(input).reshaped(to: perHead)
        if let temporalInteraction { q = temporalInteraction(q) }
        let k = key(input).reshaped(to: perHead), v = value(input).reshaped(to: perHead)
        let scores = Tensor.matmul(q, k, transposeA: true)  // [T, N, H, L, L]: token·token sums over D
        // (S·V)ᵀ = V·Sᵀ keeps the result channel-first: [T, N, H, D, L].
        let mixed = Tensor.matmul(v, scores, transposeB: true) * scale
        return projection(attentionNeuron(mixed.reshaped(to: [steps, batch, channels, tokens])))
    }
}
