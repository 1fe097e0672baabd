import SNNLayers
import SNNNeurons
import SNNTensor

/// Spikformer's MLP on tokens `[T, N, C, L]`: Conv1×1 C → rC → BN → neuron → Conv1×1 rC → C → BN →
/// neuron (both convolutions with a bias; r = 4 in Spikformer).
public final class SpikingMLP: Module, Layer {
    public let expand: Sequential, contract: Sequential

    public convenience init(dimension: Int, hiddenDimension: Int, neuron: NeuronConfiguration = .spikformer) {
        self.init(dimension: dimension, hiddenDimension: hiddenDimension, neuron: { neuron.make() })
    }

    /// An MLP whose two neuron layers come from `neuron`.
    public init(dimension: Int, hiddenDimension: Int, neuron: () -> any Layer) {
        precondition(
            dimension >= 1 && hiddenDimension >= 1,
            "SpikingMLP: dimensions must be positive, got \(dimension) → \(hiddenDimension)")
        expand = Sequential([
            Conv1d(dimension, hiddenDimension, kernelSize: 1),
            BatchNorm1d(hiddenDimension, channelAxisFromEnd: -2), neuron(),
        ])
        contract = Sequential([
            Conv1d(hiddenDimension, dimension, kernelSize: 1),
            BatchNorm1d(dimension, channelAxisFromEnd: -2), neuron(),
        ])
        super.init()
    }

    public func callAsFunction(_ input: Tensor) -> Tensor { contract(expand(input)) }
}

/// One Spikformer encoder block: x + SSA(x), then x + MLP(x).
public final class SpikformerBlock: Module, Layer {
    public let attention: SpikingSelfAttention
    public let mlp: SpikingMLP

    public init(attention: SpikingSelfAttention, mlp: SpikingMLP) {
        self.attention = attention
        self.mlp = mlp
        super.init()
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        let x = input + attention(input)
        return x + mlp(x)
    }
}

/// The size of a Spikformer.
public struct SpikformerConfiguration: Sendable, Equatable {
    /// C, the channels of the tokens.
    public var embedDimension = 256
    /// H, the attention heads (D = C/H features each).
    public var heads = 16
    /// The number of encoder blocks.
    public var depth = 2
    /// The MLP's hidden width, as a multiple of C.
    public var mlpRatio = 4
    /// The scale of the attention product (no softmax).
    public var attentionScale: Float = 0.25
    /// TIM on every block's queries, or nil.
    public var temporalInteraction: TemporalInteractionConfiguration?

    /// The DVS configuration of METHODS.md §5 (C = 256, H = 16, depth 2), without TIM.
    public init(
        embedDimension: Int = 256, heads: Int = 16, depth: Int = 2, mlpRatio: Int = 4,
        attentionScale: Float = 0.25, temporalInteraction: TemporalInteractionConfiguration? = nil
    ) {
        self.embedDimension = embedDimension
        self.heads = heads
        self.depth = depth
        self.mlpRatio = mlpRatio
        self.attentionScale = attentionScale
        self.temporalInteraction = temporalInteraction
    }

    /// Checks that a Spikformer of this size can be built for samples `[C_in, H, W]` and returns the
    /// token count; the message names what is wrong.
    public func check(inputShape: [Int]) throws(SNNError) -> Int {
        guard depth >= 1 else { throw SNNError(.invalidArgument, "the depth must be ≥ 1, got \(depth)") }
        guard mlpRatio >= 1 else { throw SNNError(.invalidArgument, "the MLP ratio must be ≥ 1, got \(mlpRatio)") }
        guard attentionScale.isFinite else { throw SNNError(.invalidArgument, "the attention scale must be finite") }
        let plan = try SpikingPatchSplitting.plan(inputShape: inputShape, embedDimension: embedDimension)
        guard heads >= 1 && embedDimension % heads == 0 else {
            throw SNNError(
                .invalidArgument, "the \(heads) attention heads must divide the embedding dimension \(embedDimension)")
        }
        let tokens = plan.height * plan.width
        if let tim = temporalInteraction {
            try TemporalInteraction.check(
                headDimension: embedDimension / heads, tokens: tokens, alpha: tim.alpha,
                kernelSize: tim.kernelSize, axis: tim.axis)
            guard
                tim.thresholds.inner.isFinite && tim.thresholds.inner > 0
                    && tim.thresholds.outer.isFinite && tim.thresholds.outer > 0
            else {
                throw SNNError(.invalidArgument, "TIM's thresholds must be > 0, got \(tim.thresholds)")
            }
        }
        return tokens
    }
}

/// Spikformer (Zhou et al., ICLR 2023) with optional TIM (Shen et al., IJCAI 2024): spiking patch
/// splitting, `depth` blocks of [x + SSA(x); x + MLP(x)], and a head that averages the tokens and
/// applies a Linear layer. Frames `[T, N, C_in, H, W]` give per-step logits `[T, N, classes]`, whose
/// mean over T is the prediction (the mean over tokens and time commutes with the Linear head).
public final class Spikformer: Module, Layer {
    public let patchSplitting: SpikingPatchSplitting
    public let blocks: [SpikformerBlock]
    public let head: Linear

    /// Throws when the configuration does not fit the input (see ``SpikformerConfiguration/check(inputShape:)``).
    public init(
        inputShape: [Int], classes: Int, configuration c: SpikformerConfiguration = SpikformerConfiguration(),
        neuron: NeuronConfiguration = .spikformer
    ) throws(SNNError) {
        guard classes >= 1 else {
            throw SNNError(.invalidArgument, "Spikformer needs at least one class, got \(classes)")
        }
        let tokens = try c.check(inputShape: inputShape)
        patchSplitting = try SpikingPatchSplitting(
            inputShape: inputShape, embedDimension: c.embedDimension, neuron: neuron)
        var built: [SpikformerBlock] = []
        for _ in 0..<c.depth {
            let attention = try SpikingSelfAttention(
                dimension: c.embedDimension, heads: c.heads, tokens: tokens,
                neuron: neuron, scale: c.attentionScale,
                temporalInteraction: c.temporalInteraction)
            built.append(
                SpikformerBlock(
                    attention: attention,
                    mlp: SpikingMLP(
                        dimension: c.embedDimension,
                        hiddenDimension: c.embedDimension * c.mlpRatio, neuron: neuron)))
        }
        blocks = built
        head = Linear(c.embedDimension, classes)
        super.init()
    }

    /// The module paths of each block's query neuron (Q), TIM (Q̃, when present) and attention neuron,
    /// named `blocks.i.q`, `blocks.i.q_tim` and `blocks.i.attention` (the rates training logs).
    public var attentionNeuronPaths: [(name: String, path: String)] {
        blocks.indices.flatMap { i in
            let prefix = "blocks.\(i).attention."
            return [("blocks.\(i).q", prefix + "query.2")]
                + (blocks[i].attention.temporalInteraction == nil
                    ? [] : [("blocks.\(i).q_tim", prefix + "temporalInteraction")])
                + [("blocks.\(i).attention", prefix + "attentionNeuron")]
        }
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        let tokens = blocks.reduce(patchSplitting(input)) { x, block in block(x) }
        return head(tokens.mean(alongAxis: -1))
    }
}
