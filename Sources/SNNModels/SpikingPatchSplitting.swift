import SNNLayers
import SNNNeurons
import SNNTensor

/// Spikformer's spiking patch splitting (SPS): four stages of Conv3×3 (no bias) → BN → neuron, with
/// C/8, C/4, C/2 and C channels, the last `poolingStages` of them followed by MaxPool(3, stride 2,
/// padding 1); then the relative position embedding x + neuron(BN(Conv3×3(x))) and the H'·W'
/// positions flattened into tokens.
///
/// Time-major input `[T, N, C_in, H, W]` becomes tokens `[T, N, C, L]` (channels before tokens, as
/// the attention blocks take them). The number of pooling stages is the most (≤ 4) that leaves at
/// least 16 tokens (METHODS.md §5: with 1–4 tokens attention is dead at initialisation), and pooling
/// happens in the last stages, as the released SHD model does: 8×8 → 1 stage (4×4 tokens), 16×16 → 2,
/// 28×28 and 34×34 → 3 (4×4 and 5×5; MaxPool(3, 2, 1) maps 7 to 4), 48×48 → 3, 64×64 → 4.
public final class SpikingPatchSplitting: Module, Layer {
    /// The four Conv → BN → neuron (→ MaxPool) stages.
    public let stages: [Sequential]
    /// Conv3×3 (no bias) → BN → neuron of the relative position embedding.
    public let positionEmbedding: Sequential
    /// How many stages end in a max-pool.
    public let poolingStages: Int
    /// The grid of tokens after pooling: L = height · width.
    public let tokenHeight: Int, tokenWidth: Int

    /// The token count L.
    public var tokens: Int { tokenHeight * tokenWidth }

    /// SPS for samples `[C_in, H, W]` embedded into `embedDimension` channels (at least 8, so that the
    /// first stage has C/8 ≥ 1 channels). Throws for inputs below 4×4 or a too small dimension.
    public convenience init(
        inputShape: [Int], embedDimension: Int,
        neuron: NeuronConfiguration = .spikformer
    ) throws(SNNError) {
        try self.init(inputShape: inputShape, embedDimension: embedDimension, neuron: { neuron.make() })
    }

    /// SPS whose five neuron layers come from `neuron`.
    public init(inputShape: [Int], embedDimension: Int, neuron: () -> any Layer) throws(SNNError) {
        let plan = try Self.plan(inputShape: inputShape, embedDimension: embedDimension)
        poolingStages = plan.poolingStages
        (tokenHeight, tokenWidth) = (plan.height, plan.width)
        var inChannels = inputShape[0]
        var built: [Sequential] = []
        for (index, channels) in Self.stageChannels(embedDimension: embedDimension).enumerated() {
            var layers: [any Layer] = [
                Conv2d(inChannels, channels, kernelSize: 3, padding: 1, bias: false),
                BatchNorm2d(channels), neuron(),
            ]
            if index >= 4 - plan.poolingStages { layers.append(MaxPool2d(3, stride: 2, padding: 1)) }
            built.append(Sequential(layers))
            inChannels = channels
        }
        stages = built
        positionEmbedding = Sequential([
            Conv2d(embedDimension, embedDimension, kernelSize: 3, padding: 1, bias: false),
            BatchNorm2d(embedDimension), neuron(),
        ])
        super.init()
    }

    /// C/8, C/4, C/2, C.
    public static func stageChannels(embedDimension c: Int) -> [Int] { [c / 8, c / 4, c / 2, c] }

    /// The side after one MaxPool(3, stride 2, padding 1): ⌈side / 2⌉.
    static func pooled(_ side: Int) -> Int { (side - 1) / 2 + 1 }

    /// The pooling stages and token grid for samples `[C_in, H, W]`; throws for what cannot be built.
    public static func plan(inputShape: [Int], embedDimension: Int) throws(SNNError)
        -> (poolingStages: Int, height: Int, width: Int)
    {
        guard inputShape.count == 3, inputShape.allSatisfy({ $0 >= 1 }) else {
            throw SNNError(.invalidArgument, "spiking patch splitting needs image input [C, H, W], got \(inputShape)")
        }
        let (h, w) = (inputShape[1], inputShape[2])
        guard h >= 4 && w >= 4 else {
            throw SNNError(
                .invalidArgument, "spiking patch splitting needs at least 4×4 pixels (16 tokens), got \(h)×\(w)")
        }
        guard embedDimension >= 8 else {
            throw SNNError(
                .invalidArgument,
                "the embedding dimension must be ≥ 8 (its first stage has C/8 channels), got \(embedDimension)")
        }
        // The most stages (≤ 4) that leave ≥ 16 tokens; 0 stages always do, since h, w ≥ 4.
        var best = (0, h, w)
        var (ph, pw) = (h, w)
        for stages in 1...4 {
            (ph, pw) = (pooled(ph), pooled(pw))
            if ph * pw >= 16 { best = (stages, ph, pw) } else { break }
        }
        return best
    }

    /// Tokens `[T, N, C, L]` from frames `[T, N, C_in, H, W]`.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        precondition(input.rank == 5, "SpikingPatchSplitting: input must be [T, N, C, H, W], got \(input.shape)")
        let features = stages.reduce(input) { x, stage in stage(x) }
        let embedded = features + positionEmbedding(features)
        return embedded.reshaped(to: Array(embedded.shape.prefix(3)) + [tokens])
    }
}

extension NeuronConfiguration {
    /// The neurons of Spikformer as METHODS.md §5 decides: LIF (τ = 2, hard reset, detached), threshold
    /// 0.5, sigmoid surrogate α = 4 (at 1.0, Q, K and V fire ~3 % and the attention neuron never).
    public static let spikformer = NeuronConfiguration(
        kind: .leakyIntegrateAndFire, surrogate: .sigmoid(alpha: 4),
        tau: 2, threshold: 0.5)
}
