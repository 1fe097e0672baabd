import Foundation
import SNNTensor

/// Builds the layer list of a ``Sequential``.
@resultBuilder
public enum LayerBuilder {
    public static func buildExpression(_ layer: any Layer) -> [any Layer] { [layer] }
    public static func buildExpression(_ layers: [any Layer]) -> [any Layer] { layers }
    public static func buildBlock(_ parts: [any Layer]...) -> [any Layer] { parts.flatMap { $0 } }
    public static func buildOptional(_ part: [any Layer]?) -> [any Layer] { part ?? [] }
    public static func buildEither(first part: [any Layer]) -> [any Layer] { part }
    public static func buildEither(second part: [any Layer]) -> [any Layer] { part }
    public static func buildArray(_ parts: [[any Layer]]) -> [any Layer] { parts.flatMap { $0 } }
}

/// Layers applied one after another; children are named `0`, `1`, ...
public final class Sequential: Module, Layer {
    public let layers: [any Layer]

    public init(@LayerBuilder _ build: () -> [any Layer]) {
        layers = build()
        super.init()
    }

    public init(_ layers: [any Layer]) {
        self.layers = layers
        super.init()
    }

    override public func namedChildren() -> [(String, Module)] {
        layers.enumerated().map { (String($0.offset), $0.element as Module) }
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        layers.reduce(input) { x, layer in layer(x) }
    }
}

/// y = x·Wᵀ + b on the last axis; all leading axes are batch. W is `[out, in]`, PyTorch's
/// initialisation (uniform ±1/√in for both).
public final class Linear: Module, Layer {
    @Parameter public var weight: Tensor
    @Parameter public var bias: Tensor
    public let hasBias: Bool

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true) {
        precondition(
            inFeatures > 0 && outFeatures > 0, "Linear: features must be positive, got \(inFeatures) → \(outFeatures)")
        let bound = 1 / Float(inFeatures).squareRoot()
        weight = Initializer.uniform([outFeatures, inFeatures], bound: bound)
        self.bias = bias ? Initializer.uniform([outFeatures], bound: bound) : Tensor(zeros: [0])
        hasBias = bias
        super.init()
        if !bias { $bias.requiresGradient = false }
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        precondition(
            input.rank >= 1 && input.shape.last == weight.shape[1],
            "Linear: input \(input.shape) must end in \(weight.shape[1]) features")
        if let counter = OperationCounter.current {
            let rows = input.count / weight.shape[1]
            counter.record(
                layer: self, macs: Double(rows * weight.count), input: input,
                samples: input.rank >= 2 ? input.shape[input.rank - 2] : 1)
        }
        let y = Tensor.matmul(input.rank == 1 ? input.reshaped(to: [1, -1]) : input, weight, transposeB: true)
        let out = hasBias ? y + bias : y
        return input.rank == 1 ? out.reshaped(to: [weight.shape[0]]) : out
    }
}

/// Flattens leading axes into one batch axis for a kernel that takes `rank` axes, then restores them.
func foldingLeadingAxes(_ x: Tensor, kernelRank: Int, name: String, _ body: (Tensor) -> Tensor) -> Tensor {
    precondition(x.rank >= kernelRank - 1, "\(name): input \(x.shape) needs at least \(kernelRank - 1) axes")
    if x.rank == kernelRank { return body(x) }
    if x.rank == kernelRank - 1 { return body(x.expandingShape(at: 0)).squeezingShape(at: 0) }
    let leading = Array(x.shape.prefix(x.rank - kernelRank + 1))
    let y = body(x.reshaped(to: [-1] + Array(x.shape.suffix(kernelRank - 1))))
    return y.reshaped(to: leading + Array(y.shape.dropFirst()))
}

/// 2-D convolution on `[..., C, H, W]` (every leading axis is batch, so `[T, N, C, H, W]` works).
public final class Conv2d: Module, Layer {
    @Parameter public var weight: Tensor
    @Parameter public var bias: Tensor
    public let hasBias: Bool
    public let stride: (Int, Int), padding: (Int, Int), dilation: (Int, Int), groups: Int

    public convenience init(
        _ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
        dilation: Int = 1, groups: Int = 1, bias: Bool = true
    ) {
        self.init(
            inChannels, outChannels, kernelSize: (kernelSize, kernelSize), stride: (stride, stride),
            padding: (padding, padding), dilation: (dilation, dilation), groups: groups, bias: bias)
    }

    public init(
        _ inChannels: Int, _ outChannels: Int, kernelSize: (Int, Int), stride: (Int, Int) = (1, 1),
        padding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1), groups: Int = 1, bias: Bool = true
    ) {
        precondition(
            groups >= 1 && inChannels % groups == 0 && outChannels % groups == 0,
            "Conv2d: groups \(groups) must divide \(inChannels) and \(outChannels)")
        let shape = [outChannels, inChannels / groups, kernelSize.0, kernelSize.1]
        let bound = 1 / Float(Initializer.fans(shape).fanIn).squareRoot()
        weight = Initializer.uniform(shape, bound: bound)
        self.bias = bias ? Initializer.uniform([outChannels], bound: bound) : Tensor(zeros: [0])
        hasBias = bias
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        super.init()
        if !bias { $bias.requiresGradient = false }
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        foldingLeadingAxes(input, kernelRank: 4, name: "Conv2d") { x in
            let y = Tensor.conv2d(
                x, weight: weight, bias: hasBias ? bias : nil, stride: stride, padding: padding,
                dilation: dilation, groups: groups)
            if let counter = OperationCounter.current {
                let macs = Double(y.count) * Double(weight.count / weight.shape[0])
                counter.record(
                    layer: self, macs: macs, input: x, samples: input.rank >= 4 ? input.shape[input.rank - 4] : 1)
            }
            return y
        }
    }
}

/// 1-D convolution on `[..., C, L]`.
public final class Conv1d: Module, Layer {
    @Parameter public var weight: Tensor
    @Parameter public var bias: Tensor
    public let hasBias: Bool
    public let stride: Int, padding: Int, dilation: Int, groups: Int

    public init(
        _ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
        dilation: Int = 1, groups: Int = 1, bias: Bool = true
    ) {
        precondition(
            groups >= 1 && inChannels % groups == 0 && outChannels % groups == 0,
            "Conv1d: groups \(groups) must divide \(inChannels) and \(outChannels)")
        let shape = [outChannels, inChannels / groups, kernelSize]
        let bound = 1 / Float(Initializer.fans(shape).fanIn).squareRoot()
        weight = Initializer.uniform(shape, bound: bound)
        self.bias = bias ? Initializer.uniform([outChannels], bound: bound) : Tensor(zeros: [0])
        hasBias = bias
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        super.init()
        if !bias { $bias.requiresGradient = false }
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        foldingLeadingAxes(input, kernelRank: 3, name: "Conv1d") { x in
            let y = Tensor.conv1d(
                x, weight: weight, bias: hasBias ? bias : nil, stride: stride, padding: padding,
                dilation: dilation, groups: groups)
            if let counter = OperationCounter.current {
                let macs = Double(y.count) * Double(weight.count / weight.shape[0])
                counter.record(
                    layer: self, macs: macs, input: x, samples: input.rank >= 3 ? input.shape[input.rank - 3] : 1)
            }
            return y
        }
    }
}

/// Batch normalisation over one channel axis; statistics pool every other axis (so over T·N·H·W
/// for `[T, N, C, H, W]`, as the papers do). Running statistics use momentum 0.1 and the unbiased
/// variance, as in PyTorch.
public class BatchNorm: Module, Layer {
    @Parameter public var weight: Tensor
    @Parameter public var bias: Tensor
    @Buffer public var runningMean: Tensor
    @Buffer public var runningVariance: Tensor
    public let epsilon: Float, momentum: Float
    /// Axis of the channels, counted from the end (−3 for `[..., C, H, W]`).
    public let channelAxisFromEnd: Int
    /// When set, training-mode statistics are those of the whole global batch over every rank of
    /// this communicator (synchronised batch norm) instead of this process's part of it. Every rank
    /// must then run the same forward and backward passes, since each call is a collective.
    public var synchronization: Communicator?

    init(_ features: Int, channelAxisFromEnd: Int, epsilon: Float, momentum: Float) {
        precondition(features > 0, "BatchNorm: features must be positive, got \(features)")
        weight = Tensor(ones: [features])
        bias = Tensor(zeros: [features])
        runningMean = Tensor(zeros: [features])
        runningVariance = Tensor(ones: [features])
        self.epsilon = epsilon
        self.momentum = momentum
        self.channelAxisFromEnd = channelAxisFromEnd
        super.init()
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        let c = weight.shape[0]
        let axis = input.rank + channelAxisFromEnd
        precondition(
            axis >= 0 && input.shape[axis] == c,
            "BatchNorm: input \(input.shape) must have \(c) channels at axis \(channelAxisFromEnd)")
        if !isTraining {
            return Tensor.batchNorm(
                input, weight: weight, bias: bias, channelAxis: axis, epsilon: epsilon,
                statistics: (runningMean, runningVariance)
            ).output
        }
        if let synchronization { return synchronizedForward(input, channelAxis: axis, over: synchronization) }
        let (output, mean, variance) = Tensor.batchNorm(
            input, weight: weight, bias: bias, channelAxis: axis, epsilon: epsilon)
        let n = Float(input.count / c)
        let unbiased = variance * (n / Swift.max(n - 1, 1))
        runningMean = (runningMean * (1 - momentum) + mean * momentum).detached
        runningVariance = (runningVariance * (1 - momentum) + unbiased * momentum).detached
        return output
    }
}

extension BatchNorm {
    /// The training-mode forward pass with statistics over every rank's input: the channel sums
    /// and then the sums of squared deviations from the global mean are allreduced (two passes,
    /// as exact as the local kernel's), composed of differentiable operations so that the
    /// backward pass carries the gradient across ranks through the same sums.
    func synchronizedForward(_ input: Tensor, channelAxis axis: Int, over communicator: Communicator) -> Tensor {
        let c = weight.shape[0]
        let axes = (0..<input.rank).filter { $0 != axis }
        // [C, 1, ..., 1]: one value per channel, broadcast over the axes after the channel axis.
        let perChannel = [c] + [Int](repeating: 1, count: input.rank - axis - 1)
        var counts: [Double] = [Double(input.count / c)]
        communicator.allReduce(&counts)
        let n = Float(counts[0])
        let mean = input.sum(alongAxes: axes).allReduced(over: communicator) / n
        let centered = input - mean.reshaped(to: perChannel)
        let variance = centered.squared().sum(alongAxes: axes).allReduced(over: communicator) / n
        let output =
            centered / (variance.reshaped(to: perChannel) + epsilon).sqrt() * weight.reshaped(to: perChannel)
            + bias.reshaped(to: perChannel)
        let unbiased = variance.detached * (n / Swift.max(n - 1, 1))
        runningMean = (runningMean * (1 - momentum) + mean.detached * momentum).detached
        runningVariance = (runningVariance * (1 - momentum) + unbiased * momentum).detached
        return output
    }
}

/// ``BatchNorm`` over the last axis of `[..., F]` (pass `channelAxisFromEnd: -2` for `[..., C, L]`).
public final class BatchNorm1d: BatchNorm {
    override public init(_ features: Int, channelAxisFromEnd: Int = -1, epsilon: Float = 1e-5, momentum: Float = 0.1) {
        precondition(channelAxisFromEnd < 0, "BatchNorm1d: channelAxisFromEnd must be negative")
        super.init(features, channelAxisFromEnd: channelAxisFromEnd, epsilon: epsilon, momentum: momentum)
    }
}

/// ``BatchNorm`` over the channels of `[..., C, H, W]`.
public final class BatchNorm2d: BatchNorm {
    public init(_ features: Int, epsilon: Float = 1e-5, momentum: Float = 0.1) {
        super.init(features, channelAxisFromEnd: -3, epsilon: epsilon, momentum: momentum)
    }
}

/// Layer normalisation over the trailing axes `normalizedShape`, with learnable scale and shift.
public final class LayerNorm: Module, Layer {
    @Parameter public var weight: Tensor
    @Parameter public var bias: Tensor
    public let epsilon: Float

    public init(_ normalizedShape: [Int], epsilon: Float = 1e-5) {
        weight = Tensor(ones: normalizedShape)
        bias = Tensor(zeros: normalizedShape)
        self.epsilon = epsilon
        super.init()
    }

    public convenience init(_ features: Int, epsilon: Float = 1e-5) { self.init([features], epsilon: epsilon) }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        let k = weight.rank
        precondition(
            input.rank >= k && Array(input.shape.suffix(k)) == weight.shape,
            "LayerNorm: input \(input.shape) must end in \(weight.shape)")
        let axes = Array((input.rank - k)..<input.rank)
        let mean = input.mean(alongAxes: axes, keepingDimensions: true)
        let centered = input - mean
        let variance = centered.squared().mean(alongAxes: axes, keepingDimensions: true)
        return centered / (variance + epsilon).sqrt() * weight + bias
    }
}

/// Zeroes each element with probability `probability` during training and scales the rest by
/// 1/(1 − p); the identity in inference mode. Its own seeded generator keeps runs reproducible.
///
/// With `sharedAcrossTime` the mask is drawn once for `input.shape.dropFirst()` and applied to every
/// step of a time-major `[T, ...]` input — SpikingJelly's multi-step `layer.Dropout`, which keeps a
/// dropped neuron silent for the whole sequence.
public final class Dropout: Module, Layer {
    public let probability: Float
    public let sharedAcrossTime: Bool
    private var generator: RandomGenerator

    public init(probability: Float = 0.5, sharedAcrossTime: Bool = false, seed: UInt64? = nil) {
        precondition(probability >= 0 && probability < 1, "Dropout: probability \(probability) must be in [0, 1)")
        self.probability = probability
        self.sharedAcrossTime = sharedAcrossTime
        generator = RandomGenerator(seed: seed ?? GlobalRandom.withGenerator { $0.next() })
        super.init()
    }

    /// Restarts the mask stream (trainers reseed per epoch so any epoch can be replayed exactly).
    public func reseed(_ seed: UInt64) { generator = RandomGenerator(seed: seed) }

    /// The mask stream's position, for checkpoints taken within an epoch.
    public var randomState: [UInt64] {
        get { generator.state }
        set { generator.state = newValue }
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        guard isTraining && probability > 0 else { return input }
        let maskShape = sharedAcrossTime && input.rank >= 2 ? Array(input.shape.dropFirst()) : input.shape
        let mask = Tensor.bernoulli(maskShape, probability: 1 - probability, using: &generator)
        return input * (mask / (1 - probability))
    }
}

/// Max pooling on `[..., C, H, W]`.
public final class MaxPool2d: Module, Layer {
    public let kernelSize: (Int, Int), stride: (Int, Int), padding: (Int, Int)
    public init(_ kernelSize: Int, stride: Int? = nil, padding: Int = 0) {
        self.kernelSize = (kernelSize, kernelSize)
        self.stride = (stride ?? kernelSize, stride ?? kernelSize)
        self.padding = (padding, padding)
        super.init()
    }
    public func callAsFunction(_ input: Tensor) -> Tensor {
        foldingLeadingAxes(input, kernelRank: 4, name: "MaxPool2d") {
            $0.maxPool2d(kernelSize: kernelSize, stride: stride, padding: padding)
        }
    }
}

/// Average pooling on `[..., C, H, W]`; padding counts as zeros in the average (PyTorch's
/// `count_include_pad`).
public final class AvgPool2d: Module, Layer {
    public let kernelSize: (Int, Int), stride: (Int, Int), padding: (Int, Int)
    public convenience init(_ kernelSize: Int, stride: Int? = nil, padding: Int = 0) {
        self.init(
            kernelSize: (kernelSize, kernelSize), stride: (stride ?? kernelSize, stride ?? kernelSize),
            padding: (padding, padding))
    }
    public init(kernelSize: (Int, Int), stride: (Int, Int), padding: (Int, Int)) {
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        super.init()
    }
    public func callAsFunction(_ input: Tensor) -> Tensor {
        foldingLeadingAxes(input, kernelRank: 4, name: "AvgPool2d") {
            $0.avgPool2d(kernelSize: kernelSize, stride: stride, padding: padding)
        }
    }
}

/// Sum pooling on `[..., C, H, W]` (NIR's SumPool2d): the sum of each window, padding counting as
/// zeros, which is the padded average times the window's size.
public final class SumPool2d: Module, Layer {
    /// The padded average, which the window's size turns into the sum.
    public let average: AvgPool2d
    public init(kernelSize: (Int, Int), stride: (Int, Int), padding: (Int, Int)) {
        average = AvgPool2d(kernelSize: kernelSize, stride: stride, padding: padding)
        super.init()
    }
    public func callAsFunction(_ input: Tensor) -> Tensor {
        average(input) * Float(average.kernelSize.0 * average.kernelSize.1)
    }
}

/// Average pooling along the last axis of `[..., C, L]` (window and stride `kernelSize`).
public final class AvgPool1d: Module, Layer {
    public let kernelSize: Int
    public init(_ kernelSize: Int) {
        precondition(kernelSize >= 1, "AvgPool1d: kernel size must be ≥ 1")
        self.kernelSize = kernelSize
        super.init()
    }
    public func callAsFunction(_ input: Tensor) -> Tensor {
        precondition(input.rank >= 2, "AvgPool1d: input \(input.shape) needs [..., C, L]")
        let l = input.shape[input.rank - 1]
        precondition(l >= kernelSize, "AvgPool1d: length \(l) is shorter than the window \(kernelSize)")
        let asImages = input.reshaped(to: [-1, input.shape[input.rank - 2], 1, l])
        let y = asImages.avgPool2d(kernelSize: (1, kernelSize), stride: (1, kernelSize), padding: (0, 0))
        return y.reshaped(to: Array(input.shape.dropLast()) + [y.shape[3]])
    }
}

/// Adaptive average pooling of `[..., C, H, W]` to a fixed spatial size.
public final class AdaptiveAvgPool2d: Module, Layer {
    public let outputSize: (Int, Int)
    public init(_ outputSize: (Int, Int)) {
        self.outputSize = outputSize
        super.init()
    }
    public convenience init(_ outputSize: Int) { self.init((outputSize, outputSize)) }
    public func callAsFunction(_ input: Tensor) -> Tensor {
        foldingLeadingAxes(input, kernelRank: 4, name: "AdaptiveAvgPool2d") {
            $0.adaptiveAvgPool2d(outputSize: outputSize)
        }
    }
}

/// Merges trailing axes into one: the last `lastAxes` axes (so `[T, N, C, H, W]` → `[T, N, C·H·W]`
/// with 3), or every axis from `startAxis` on.
public final class Flatten: Module, Layer {
    public enum Span: Sendable { case lastAxes(Int), fromAxis(Int) }
    public let span: Span

    public init(lastAxes: Int = 3) {
        precondition(lastAxes >= 1, "Flatten: lastAxes must be ≥ 1")
        span = .lastAxes(lastAxes)
        super.init()
    }

    public init(startAxis: Int) {
        precondition(startAxis >= 0, "Flatten: startAxis must be ≥ 0")
        span = .fromAxis(startAxis)
        super.init()
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        switch span {
        case .lastAxes(let n):
            precondition(input.rank >= n, "Flatten: input \(input.shape) has fewer than \(n) axes")
            return input.flattened(startAxis: input.rank - n)
        case .fromAxis(let a):
            precondition(input.rank > a, "Flatten: input \(input.shape) has no axis \(a)")
            return input.flattened(startAxis: a)
        }
    }
}

/// Rectified linear unit.
public final class ReLU: Module, Layer {
    override public init() { super.init() }
    public func callAsFunction(_ input: Tensor) -> Tensor { input.relu() }
}

/// Gaussian error linear unit (exact erf form).
public final class GELU: Module, Layer {
    override public init() { super.init() }
    public func callAsFunction(_ input: Tensor) -> Tensor { input.gelu() }
}

/// Logistic sigmoid.
public final class Sigmoid: Module, Layer {
    override public init() { super.init() }
    public func callAsFunction(_ input: Tensor) -> Tensor { input.sigmoid() }
}

/// Hyperbolic tangent.
public final class Tanh: Module, Layer {
    override public init() { super.init() }
    public func callAsFunction(_ input: Tensor) -> Tensor { input.tanh() }
}

/// max(x, slope·x).
public final class LeakyReLU: Module, Layer {
    public let negativeSlope: Float
    public init(negativeSlope: Float = 0.01) {
        self.negativeSlope = negativeSlope
        super.init()
    }
    public func callAsFunction(_ input: Tensor) -> Tensor { input.leakyRelu(negativeSlope: negativeSlope) }
}

/// Returns its input.
public final class Identity: Module, Layer {
    override public init() { super.init() }
    public func callAsFunction(_ input: Tensor) -> Tensor { input }
}
