import SNN

/// A differentiable stand-in for a spiking neuron, for finite-difference checks of layers that hold
/// neurons: LIF charge (τ = 2, decayed input), "spikes" σ(4(h − V_th)) instead of Θ(h − V_th), and a
/// reset h·(1 − s) through the graph. Its forward pass is smooth, so the tape's gradient of everything
/// around it can be compared with finite differences (the spike surrogates are tested elsewhere).
public final class SmoothNeuron: Module, SpikingNeuron {
    public let threshold: Float
    public var statistics: SpikeStatistics?

    public init(threshold: Float = 0.5) {
        self.threshold = threshold
        super.init()
    }

    public func restingState(like step: Tensor) -> Tensor { Tensor(zeros: step.shape) }
    public func charge(membrane: Tensor, input: Tensor) -> Tensor { membrane + (input - membrane) / 2 }
    public func fire(_ charged: Tensor) -> Tensor { ((charged - threshold) * 4).sigmoid() }
    public func reset(_ charged: Tensor, spikes: Tensor) -> Tensor { charged * (1 - spikes) }
    public func callAsFunction(_ input: Tensor) -> Tensor { stepByStep(input).spikes }
}

/// The worst relative error between the tape's gradients of `layer` at `input` — with respect to the
/// input and every trainable parameter — and central finite differences (see ``gradientError``).
/// The parameters are restored afterwards.
public func layerGradientError(_ layer: some Layer, at input: Tensor, step: Float = 1e-2) -> Float {
    let parameters = layer.namedParameters().map(\.parameter).filter(\.requiresGradient)
    let saved = parameters.map(\.wrappedValue)
    defer { for (p, v) in zip(parameters, saved) { p.wrappedValue = v } }
    return gradientError(at: [input] + saved, step: step) { t in
        for (p, v) in zip(parameters, t.dropFirst()) { p.wrappedValue = v }
        return layer(t[0])
    }
}
