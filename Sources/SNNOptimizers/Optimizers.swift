import Foundation
import SNNLayers
import SNNTensor

/// Updates a module's parameters from gradients. State (momenta, step counts) is keyed by the
/// parameter paths, so it can be saved beside the model and restored.
public protocol Optimizer: AnyObject {
    /// The step size used by the next ``update(_:along:)``; schedules set it each epoch or step.
    var learningRate: Float { get set }
    /// Applies one step to every trainable parameter that has a gradient.
    func update(_ model: Module, along gradients: Gradients)
    /// The optimizer state as named tensors (`path/exp_avg`, ...), for checkpoints.
    func stateDictionary() -> [String: Tensor]
    /// Restores state saved by ``stateDictionary()``.
    func load(stateDictionary: [String: Tensor]) throws(SNNError)
}

/// Per-parameter state slots of an optimizer.
final class SlotStore {
    var slots: [String: Tensor] = [:]

    func slot(_ path: String, _ name: String, like p: Tensor) -> Tensor {
        slots["\(path)/\(name)"] ?? Tensor(zeros: p.shape)
    }

    func state() -> [String: Tensor] { slots }

    func load(_ state: [String: Tensor], allowed names: Set<String>) throws(SNNError) {
        for key in state.keys {
            guard let name = key.split(separator: "/").last, names.contains(String(name)) else {
                throw SNNError(.mismatch, "optimizer state entry \(key) is not one of \(names.sorted())")
            }
        }
        slots = state
    }
}

/// Applies `body(parameter, gradient, count)` to raw buffers of every parameter with a gradient.
func forEachParameter(
    _ model: Module, _ gradients: Gradients,
    _ body: (String, Parameter, Tensor) -> Void
) {
    for (path, p) in model.namedParameters() where p.requiresGradient {
        guard let g = gradients[path] else { continue }
        precondition(
            g.shape == p.wrappedValue.shape,
            "optimizer: gradient of \(path) has shape \(g.shape), the parameter \(p.wrappedValue.shape)")
        body(path, p, g)
    }
}

/// Stochastic gradient descent with PyTorch's semantics: g ← g + λ·p; with momentum μ,
/// b ← μ·b + (1 − dampening)·g (b = g on the first step) and g ← b, or g ← g + μ·b (Nesterov);
/// p ← p − lr·g.
public final class SGD: Optimizer {
    public var learningRate: Float
    public let momentum: Float, dampening: Float, weightDecay: Float, nesterov: Bool
    private let store = SlotStore()

    public init(
        learningRate: Float, momentum: Float = 0, dampening: Float = 0, weightDecay: Float = 0,
        nesterov: Bool = false
    ) {
        precondition(
            learningRate >= 0 && momentum >= 0 && weightDecay >= 0,
            "SGD: learning rate \(learningRate), momentum \(momentum), weight decay \(weightDecay) must be ≥ 0")
        precondition(!nesterov || (momentum > 0 && dampening == 0), "SGD: Nesterov needs momentum > 0 and no dampening")
        self.learningRate = learningRate
        self.momentum = momentum
        self.dampening = dampening
        self.weightDecay = weightDecay
        self.nesterov = nesterov
    }

    public func update(_ model: Module, along gradients: Gradients) {
        let lr = learningRate, mu = momentum, damp = dampening, wd = weightDecay, nesterov = nesterov
        forEachParameter(model, gradients) { path, p, g in
            let key = "\(path)/momentum_buffer"
            let first = store.slots[key] == nil
            var buffer = mu > 0 ? store.slot(path, "momentum_buffer", like: g) : Tensor(zeros: [0])
            var value = p.wrappedValue
            value.withUnsafeMutableBufferPointer { pv in
                buffer.withUnsafeMutableBufferPointer { bv in
                    g.withUnsafeBufferPointer { gv in
                        for i in 0..<pv.count {
                            var d = gv[i] + wd * pv[i]
                            if mu > 0 {
                                bv[i] = first ? d : mu * bv[i] + (1 - damp) * d
                                d = nesterov ? d + mu * bv[i] : bv[i]
                            }
                            pv[i] -= lr * d
                        }
                    }
                }
            }
            p.wrappedValue = value
            if mu > 0 { store.slots[key] = buffer }
        }
    }

    public func stateDictionary() -> [String: Tensor] { store.state() }
    public func load(stateDictionary state: [String: Tensor]) throws(SNNError) {
        try store.load(state, allowed: ["momentum_buffer"])
    }
}

/// Adam (Kingma & Ba) and AdamW (Loshchilov & Hutter), with PyTorch's update:
/// m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g², p ← p − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε).
/// Adam adds weight decay to the gradient (λ·p); AdamW decays the weights directly
/// (p ← p·(1 − lr·λ)) and can exempt 1-D parameters (biases, norms), as the papers' recipes do.
public class AdamBase: Optimizer {
    public var learningRate: Float
    public let beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float
    let decoupled: Bool
    /// Whether parameters with one axis (biases, normalisation scales) are exempt from weight decay.
    public let excludeOneDimensionalFromDecay: Bool
    private let store = SlotStore()

    init(
        learningRate: Float, beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float, decoupled: Bool,
        excludeOneDimensionalFromDecay: Bool
    ) {
        precondition(
            learningRate >= 0 && weightDecay >= 0 && epsilon >= 0,
            "Adam: learning rate \(learningRate), weight decay \(weightDecay), epsilon \(epsilon) must be ≥ 0")
        precondition(
            (0..<1).contains(beta1) && (0..<1).contains(beta2), "Adam: betas (\(beta1), \(beta2)) must be in [0, 1)")
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.decoupled = decoupled
        self.excludeOneDimensionalFromDecay = excludeOneDimensionalFromDecay
    }

    public func update(_ model: Module, along gradients: Gradients) {
        let lr = learningRate, b1 = beta1, b2 = beta2, eps = epsilon
        forEachParameter(model, gradients) { path, p, g in
            let wd = (excludeOneDimensionalFromDecay && p.wrappedValue.rank <= 1) ? 0 : weightDecay
            var m = store.slot(path, "exp_avg", like: g), v = store.slot(path, "exp_avg_sq", like: g)
            let step = (store.slots["\(path)/step"]?.item ?? 0) + 1
            let bc1 = 1 - Foundation.pow(b1, step), bc2Root = (1 - Foundation.pow(b2, step)).squareRoot()
            let stepSize = lr / bc1, decay = decoupled ? 1 - lr * wd : 1, l2 = decoupled ? 0 : wd
            var value = p.wrappedValue
            value.withUnsafeMutableBufferPointer { pv in
                m.withUnsafeMutableBufferPointer { mv in
                    v.withUnsafeMutableBufferPointer { vv in
                        g.withUnsafeBufferPointer { gv in
                            for i in 0..<pv.count {
                                let gi = gv[i] + l2 * pv[i]
                                mv[i] = b1 * mv[i] + (1 - b1) * gi
                                vv[i] = b2 * vv[i] + (1 - b2) * gi * gi
                                pv[i] = pv[i] * decay - stepSize * mv[i] / (vv[i].squareRoot() / bc2Root + eps)
                            }
                        }
                    }
                }
            }
            p.wrappedValue = value
            store.slots["\(path)/exp_avg"] = m
            store.slots["\(path)/exp_avg_sq"] = v
            store.slots["\(path)/step"] = Tensor(step)
        }
    }

    public func stateDictionary() -> [String: Tensor] { store.state() }
    public func load(stateDictionary state: [String: Tensor]) throws(SNNError) {
        try store.load(state, allowed: ["exp_avg", "exp_avg_sq", "step"])
    }
}

/// Adam with L2 weight decay added to the gradient.
public final class Adam: AdamBase {
    public init(
        learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
        weightDecay: Float = 0
    ) {
        super.init(
            learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay,
            decoupled: false, excludeOneDimensionalFromDecay: false)
    }
}

/// Adam with decoupled weight decay (default 0.01, as PyTorch and the papers' recipes).
public final class AdamW: AdamBase {
    public init(
        learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
        weightDecay: Float = 0.01, excludeOneDimensionalFromDecay: Bool = false
    ) {
        super.init(
            learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay,
            decoupled: true, excludeOneDimensionalFromDecay: excludeOneDimensionalFromDecay)
    }
}

/// Scales all gradients so their global L2 norm is at most `maxNorm` (PyTorch's
/// `clip_grad_norm_`: factor maxNorm / (norm + 1e-6) when below 1). Returns the norm before clipping.
@discardableResult
public func clipGradientNorm(_ gradients: inout Gradients, maxNorm: Float) -> Float {
    precondition(maxNorm > 0, "clipGradientNorm: maxNorm \(maxNorm) must be positive")
    let norm = gradients.norm
    let factor = maxNorm / (norm + 1e-6)
    if factor < 1 {
        for (path, g) in gradients.byPath { gradients.byPath[path] = (g * factor).detached }
    }
    return norm
}
