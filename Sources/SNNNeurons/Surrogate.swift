import Foundation
import SNNTensor

/// The vector width of the neuron kernels.
public typealias NeuronVector = SIMD8<Float>

/// A surrogate gradient: the forward pass fires with the Heaviside step Θ(x) (x = v − V_th, fire when
/// x ≥ 0), and the backward pass uses `derivative(x)` in place of Θ's derivative.
///
/// Surrogates are small value types so that neurons, generic over them, get a specialised inner loop.
/// `function(x)` is the smooth function whose derivative is used (for plots and references).
public protocol Surrogate: Sendable, Equatable {
    /// The sharpness parameter α.
    var alpha: Float { get }
    /// A short name (`arctangent`, `qgate`, ...), used in configurations.
    static var name: String { get }
    /// Creates the surrogate with sharpness α.
    init(alpha: Float)
    /// The smooth function standing in for Θ.
    func function(_ x: Float) -> Float
    /// Its derivative g(x), used in the backward pass.
    func derivative(_ x: Float) -> Float
    /// g for a vector of lanes (specialised where cheap; lane by lane otherwise).
    func derivative(_ x: NeuronVector) -> NeuronVector
    /// ∂g/∂α, for surrogates whose α is learnable (zero for the others).
    func derivativeWithRespectToAlpha(_ x: Float) -> Float
}

extension Surrogate {
    public func derivative(_ x: NeuronVector) -> NeuronVector {
        var r = NeuronVector()
        for i in 0..<NeuronVector.scalarCount { r[i] = derivative(x[i]) }
        return r
    }
    public func derivativeWithRespectToAlpha(_ x: Float) -> Float { 0 }
}

/// Piecewise quadratic ("QGate", BrainCog's default, α = 2; SpikingJelly's `PiecewiseQuadratic`):
/// g = α − α²|x| for |x| ≤ 1/α, else 0. The function is 0 below −1/α, ½(αx + 1)² up to 0,
/// 1 − ½(1 − αx)² up to 1/α, and 1 above.
public struct QGate: Surrogate {
    public static let name = "qgate"
    public let alpha: Float
    public init(alpha: Float = 2) { self.alpha = alpha }
    public func function(_ x: Float) -> Float {
        if x < -1 / alpha { return 0 }
        if x > 1 / alpha { return 1 }
        return x <= 0 ? 0.5 * (alpha * x + 1) * (alpha * x + 1) : 1 - 0.5 * (1 - alpha * x) * (1 - alpha * x)
    }
    public func derivative(_ x: Float) -> Float { Swift.abs(x) <= 1 / alpha ? alpha - alpha * alpha * Swift.abs(x) : 0 }
    public func derivative(_ x: NeuronVector) -> NeuronVector {
        let a = NeuronVector(repeating: alpha)
        let g = a - a * a * abs(x)
        return g.replacing(with: 0, where: g .< 0)
    }
}

/// Arctangent (SpikingJelly's `ATan`, α = 2): function ½ + atan(π/2·α·x)/π,
/// g = (α/2) / (1 + (π/2·α·x)²). Its α may be learnable (the PSU family).
public struct Arctangent: Surrogate {
    public static let name = "arctangent"
    public let alpha: Float
    public init(alpha: Float = 2) { self.alpha = alpha }
    public func function(_ x: Float) -> Float { 0.5 + Foundation.atan(Float.pi / 2 * alpha * x) / Float.pi }
    public func derivative(_ x: Float) -> Float {
        let u = Float.pi / 2 * alpha * x
        return alpha / 2 / (1 + u * u)
    }
    public func derivative(_ x: NeuronVector) -> NeuronVector {
        let u = NeuronVector(repeating: Float.pi / 2 * alpha) * x
        return NeuronVector(repeating: alpha / 2) / (1 + u * u)
    }
    public func derivativeWithRespectToAlpha(_ x: Float) -> Float {
        // g = (α/2)/(1 + c²α²x²) with c = π/2: dg/dα = ½(1 − c²α²x²)/(1 + c²α²x²)².
        let u = Float.pi / 2 * alpha * x, d = 1 + u * u
        return 0.5 * (1 - u * u) / (d * d)
    }
}

/// Sigmoid (SpikingJelly's `Sigmoid`, α = 4): function σ(αx), g = α·σ(αx)(1 − σ(αx)).
public struct SigmoidSurrogate: Surrogate {
    public static let name = "sigmoid"
    public let alpha: Float
    public init(alpha: Float = 4) { self.alpha = alpha }
    public func function(_ x: Float) -> Float { 1 / (1 + Foundation.exp(-alpha * x)) }
    public func derivative(_ x: Float) -> Float {
        let s = function(x)
        return alpha * s * (1 - s)
    }
}

/// Rectangular window: g = α for |x| < 1/(2α), else 0 (the function is a clipped ramp).
public struct Rectangular: Surrogate {
    public static let name = "rectangular"
    public let alpha: Float
    public init(alpha: Float = 1) { self.alpha = alpha }
    public func function(_ x: Float) -> Float { Swift.min(Swift.max(alpha * x + 0.5, 0), 1) }
    public func derivative(_ x: Float) -> Float { Swift.abs(x) < 1 / (2 * alpha) ? alpha : 0 }
    public func derivative(_ x: NeuronVector) -> NeuronVector {
        NeuronVector(repeating: 0).replacing(with: alpha, where: abs(x) .< NeuronVector(repeating: 1 / (2 * alpha)))
    }
}

/// Piecewise linear with a leak (SpikingJelly's `PiecewiseLeakyReLU`, w = 1/α, c = 0.01):
/// g = α/2 for |x| < 1/α, else 0.01.
public struct PiecewiseLinear: Surrogate {
    public static let name = "piecewise-linear"
    public let alpha: Float
    public static let leak: Float = 0.01
    public init(alpha: Float = 1) { self.alpha = alpha }
    public func function(_ x: Float) -> Float {
        let w = 1 / alpha
        if x < -w { return Self.leak * x + Self.leak * w }
        if x > w { return Self.leak * x - Self.leak * w + 1 }
        return x / (2 * w) + 0.5
    }
    public func derivative(_ x: Float) -> Float { Swift.abs(x) < 1 / alpha ? alpha / 2 : Self.leak }
    public func derivative(_ x: NeuronVector) -> NeuronVector {
        NeuronVector(repeating: Self.leak).replacing(
            with: alpha / 2, where: abs(x) .< NeuronVector(repeating: 1 / alpha))
    }
}

/// SuperSpike (Zenke & Ganguli; the fast sigmoid): g = 1/(α|x| + 1)², the derivative of
/// ½ + x/(1 + α|x|).
public struct SuperSpike: Surrogate {
    public static let name = "superspike"
    public let alpha: Float
    public init(alpha: Float = 10) { self.alpha = alpha }
    public func function(_ x: Float) -> Float { 0.5 + x / (1 + alpha * Swift.abs(x)) }
    public func derivative(_ x: Float) -> Float {
        let d = alpha * Swift.abs(x) + 1
        return 1 / (d * d)
    }
    public func derivative(_ x: NeuronVector) -> NeuronVector {
        let d = NeuronVector(repeating: alpha) * abs(x) + 1
        return 1 / (d * d)
    }
}

/// Error function (SpikingJelly's `Erf`, α = 2): function ½(1 + erf(αx)), g = α/√π·exp(−(αx)²).
public struct ErfSurrogate: Surrogate {
    public static let name = "erf"
    public let alpha: Float
    public init(alpha: Float = 2) { self.alpha = alpha }
    public func function(_ x: Float) -> Float { 0.5 * (1 + erff(alpha * x)) }
    public func derivative(_ x: Float) -> Float {
        alpha / Float.pi.squareRoot() * Foundation.exp(-(alpha * x) * (alpha * x))
    }
}

@inline(__always) func abs(_ x: NeuronVector) -> NeuronVector {
    x.replacing(with: -x, where: x .< 0)
}

/// A surrogate chosen at run time (configuration files, the command line). Neurons dispatch once on
/// it to a kernel specialised for the concrete type.
public enum SurrogateChoice: Sendable, Equatable, Hashable, CustomStringConvertible {
    case qgate(alpha: Float = 2)
    case arctangent(alpha: Float = 2)
    case sigmoid(alpha: Float = 4)
    case rectangular(alpha: Float = 1)
    case piecewiseLinear(alpha: Float = 1)
    case superSpike(alpha: Float = 10)
    case erf(alpha: Float = 2)

    /// The names accepted by ``init(name:alpha:)``.
    public static let names = [
        "qgate", "arctangent", "sigmoid", "rectangular", "piecewise-linear", "superspike", "erf",
    ]

    /// The surrogate of that name with its default α, or `alpha` when given; nil for an unknown name.
    public init?(name: String, alpha: Float? = nil) {
        switch name.lowercased() {
        case "qgate", "piecewise-quadratic": self = .qgate(alpha: alpha ?? 2)
        case "arctangent", "atan": self = .arctangent(alpha: alpha ?? 2)
        case "sigmoid": self = .sigmoid(alpha: alpha ?? 4)
        case "rectangular", "rect": self = .rectangular(alpha: alpha ?? 1)
        case "piecewise-linear", "pwl": self = .piecewiseLinear(alpha: alpha ?? 1)
        case "superspike": self = .superSpike(alpha: alpha ?? 10)
        case "erf": self = .erf(alpha: alpha ?? 2)
        default: return nil
        }
    }

    public var alpha: Float {
        switch self {
        case .qgate(let a), .arctangent(let a), .sigmoid(let a), .rectangular(let a), .piecewiseLinear(let a),
            .superSpike(let a), .erf(let a):
            a
        }
    }

    public var name: String {
        switch self {
        case .qgate: QGate.name
        case .arctangent: Arctangent.name
        case .sigmoid: SigmoidSurrogate.name
        case .rectangular: Rectangular.name
        case .piecewiseLinear: PiecewiseLinear.name
        case .superSpike: SuperSpike.name
        case .erf: ErfSurrogate.name
        }
    }

    public var description: String { "\(name)(α = \(alpha))" }

    /// The same kind of surrogate with sharpness `alpha`.
    public func with(alpha: Float) -> SurrogateChoice {
        switch self {
        case .qgate: .qgate(alpha: alpha)
        case .arctangent: .arctangent(alpha: alpha)
        case .sigmoid: .sigmoid(alpha: alpha)
        case .rectangular: .rectangular(alpha: alpha)
        case .piecewiseLinear: .piecewiseLinear(alpha: alpha)
        case .superSpike: .superSpike(alpha: alpha)
        case .erf: .erf(alpha: alpha)
        }
    }

    /// Calls `body` with the concrete surrogate, so generic code is specialised per type.
    public func withSurrogate<R>(_ body: (any Surrogate) -> R) -> R {
        switch self {
        case .qgate(let a): body(QGate(alpha: a))
        case .arctangent(let a): body(Arctangent(alpha: a))
        case .sigmoid(let a): body(SigmoidSurrogate(alpha: a))
        case .rectangular(let a): body(Rectangular(alpha: a))
        case .piecewiseLinear(let a): body(PiecewiseLinear(alpha: a))
        case .superSpike(let a): body(SuperSpike(alpha: a))
        case .erf(let a): body(ErfSurrogate(alpha: a))
        }
    }

    /// The derivative at x (scalar; for reference computations).
    public func derivative(_ x: Float) -> Float { withSurrogate { $0.derivative(x) } }
}
