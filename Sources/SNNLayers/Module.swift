import Foundation
import SNNTensor

/// A trainable tensor of a ``Module``: discovered by reflection, named by its dotted path
/// (`features.0.weight`), updated by optimizers and saved in checkpoints.
///
/// The wrapper is a class so that gradient scopes and optimizers can replace the value in place
/// while the module keeps reading `self.weight` as a plain `Tensor`.
@propertyWrapper
public final class Parameter: @unchecked Sendable {
    /// The current value.
    public var wrappedValue: Tensor
    /// Whether optimizers and gradient scopes consider this parameter (false = frozen).
    public var requiresGradient: Bool

    public init(wrappedValue: Tensor, requiresGradient: Bool = true) {
        self.wrappedValue = wrappedValue
        self.requiresGradient = requiresGradient
    }

    /// The wrapper itself, reachable as `$name`.
    public var projectedValue: Parameter { self }
}

/// A tensor of a ``Module`` that is saved in checkpoints but not trained (running statistics,
/// fixed matrices).
@propertyWrapper
public final class Buffer: @unchecked Sendable {
    public var wrappedValue: Tensor
    public init(wrappedValue: Tensor) { self.wrappedValue = wrappedValue }
    public var projectedValue: Buffer { self }
}

/// The base class of every layer and model.
///
/// Parameters (`@Parameter`), buffers (`@Buffer`) and child modules (stored properties of module
/// type, arrays of modules, optional modules) are found by reflection over the class and its
/// superclasses, and named by dotted paths. Plain stored tensors are constants. Do not use
/// `lazy var` children: reflection would not see them before first use.
open class Module {
    /// Training mode (dropout active, batch statistics) versus inference mode.
    public private(set) var isTraining: Bool = true

    public init() {}

    /// The direct children with their names. The default uses reflection; containers override it.
    open func namedChildren() -> [(String, Module)] {
        var result: [(String, Module)] = []
        for (name, value) in storedProperties() { Module.collectModules(value, name: name, into: &result) }
        return result
    }

    /// Stored properties of this object by public name (wrappers' leading underscore dropped),
    /// superclass properties first, so paths follow declaration order from the base down.
    private func storedProperties() -> [(String, Any)] {
        var mirrors: [Mirror] = []
        var mirror: Mirror? = Mirror(reflecting: self)
        while let m = mirror {
            mirrors.append(m)
            mirror = m.superclassMirror
        }
        return mirrors.reversed().flatMap { m in
            m.children.compactMap { child in child.label.map { (Module.publicName($0), child.value) } }
        }
    }

    static func publicName(_ label: String) -> String {
        label.hasPrefix("_") ? String(label.dropFirst()) : label
    }

    private static func collectModules(_ value: Any, name: String, into result: inout [(String, Module)]) {
        if let module = value as? Module {
            result.append((name, module))
            return
        }
        let mirror = Mirror(reflecting: value)
        switch mirror.displayStyle {
        case .optional:
            if let some = mirror.children.first { collectModules(some.value, name: name, into: &result) }
        case .collection:
            for (i, element) in mirror.children.enumerated() {
                collectModules(element.value, name: "\(name).\(i)", into: &result)
            }
        default:
            break
        }
    }

    /// The parameters and buffers declared directly on this module (not its children).
    func ownTensors() -> (parameters: [(String, Parameter)], buffers: [(String, Buffer)]) {
        var parameters: [(String, Parameter)] = [], buffers: [(String, Buffer)] = []
        for (name, value) in storedProperties() {
            if let p = value as? Parameter { parameters.append((name, p)) }
            if let b = value as? Buffer { buffers.append((name, b)) }
        }
        return (parameters, buffers)
    }

    /// Every parameter of this module and its descendants, by dotted path, in declaration order.
    public func namedParameters() -> [(path: String, parameter: Parameter)] {
        var result: [(String, Parameter)] = []
        visit(prefix: "") { prefix, module in
            for (name, p) in module.ownTensors().parameters { result.append((prefix + name, p)) }
        }
        return result
    }

    /// Every buffer of this module and its descendants, by dotted path.
    public func namedBuffers() -> [(path: String, buffer: Buffer)] {
        var result: [(String, Buffer)] = []
        visit(prefix: "") { prefix, module in
            for (name, b) in module.ownTensors().buffers { result.append((prefix + name, b)) }
        }
        return result
    }

    /// Every descendant module (self first) with its path prefix ("" for self, "features.0." ...).
    public func namedModules() -> [(path: String, module: Module)] {
        var result: [(String, Module)] = []
        visit(prefix: "") { prefix, module in result.append((prefix, module)) }
        return result
    }

    private func visit(prefix: String, _ body: (String, Module) -> Void) {
        body(prefix, self)
        for (name, child) in namedChildren() { child.visit(prefix: prefix + name + ".", body) }
    }

    /// The number of trainable scalars.
    public var parameterCount: Int { namedParameters().reduce(0) { $0 + $1.parameter.wrappedValue.count } }

    /// Switches this module and its descendants to training (`true`) or inference mode.
    public func train(_ training: Bool = true) {
        for (_, m) in namedModules() { m.isTraining = training }
    }

    /// Switches to inference mode.
    public func eval() { train(false) }

    /// Parameters and buffers by path (the checkpoint content).
    public func stateDictionary() -> [String: Tensor] {
        var state: [String: Tensor] = [:]
        for (path, p) in namedParameters() { state[path] = p.wrappedValue.detached }
        for (path, b) in namedBuffers() { state[path] = b.wrappedValue.detached }
        return state
    }

    /// Replaces parameters and buffers from `state`. Every tensor of the module must be present
    /// with its shape; with `strict`, extra entries are an error too. Nothing changes on error.
    public func load(stateDictionary state: [String: Tensor], strict: Bool = true, file: String? = nil) throws(SNNError)
    {
        var targets: [(String, [Int], (Tensor) -> Void)] = []
        for (path, p) in namedParameters() { targets.append((path, p.wrappedValue.shape, { p.wrappedValue = $0 })) }
        for (path, b) in namedBuffers() { targets.append((path, b.wrappedValue.shape, { b.wrappedValue = $0 })) }
        let missing = targets.map(\.0).filter { state[$0] == nil }
        if !missing.isEmpty {
            throw SNNError(.mismatch, "missing entries: \(missing.sorted().joined(separator: ", "))", file: file)
        }
        if strict {
            let known = Set(targets.map(\.0))
            let unexpected = state.keys.filter { !known.contains($0) }
            if !unexpected.isEmpty {
                throw SNNError(
                    .mismatch, "unexpected entries: \(unexpected.sorted().joined(separator: ", "))", file: file)
            }
        }
        // Every target has an entry here (the missing ones were reported above); assign only when all fit.
        var assignments: [(Tensor, (Tensor) -> Void)] = []
        for (path, shape, assign) in targets {
            guard let value = state[path] else { continue }
            guard value.shape == shape else {
                throw SNNError(
                    .mismatch, "entry \(path) has shape \(value.shape), the model expects \(shape)", file: file)
            }
            assignments.append((value, assign))
        }
        for (value, assign) in assignments { assign(value.detached) }
    }
}

/// A module that maps one tensor to another.
public protocol Layer: Module {
    func callAsFunction(_ input: Tensor) -> Tensor
}

/// Gradients of a scalar objective with respect to a module's parameters, by parameter path.
public struct Gradients: Sendable {
    /// Gradient by dotted parameter path (frozen parameters are absent).
    public var byPath: [String: Tensor]

    public init(byPath: [String: Tensor] = [:]) { self.byPath = byPath }

    public subscript(path: String) -> Tensor? { byPath[path] }

    /// The global L2 norm over all gradients.
    public var norm: Float {
        var s: Double = 0
        for g in byPath.values { g.withUnsafeBufferPointer { for v in $0 { s += Double(v) * Double(v) } } }
        return Float(s.squareRoot())
    }
}

/// The value of `f(model)` (a scalar loss) and its gradients with respect to every trainable
/// parameter of `model`.
public func valueWithGradient<M: Module>(at model: M, _ f: (M) -> Tensor) -> (value: Tensor, gradients: Gradients) {
    let parameters = model.namedParameters().filter { $0.parameter.requiresGradient }
    return GradientTape.record { tape in
        var watched: [Tensor] = []
        for (_, p) in parameters {
            p.wrappedValue = tape.watch(p.wrappedValue)
            watched.append(p.wrappedValue)
        }
        defer { for (_, p) in parameters { p.wrappedValue = p.wrappedValue.detached } }
        let value = f(model)
        precondition(
            value.count == 1, "valueWithGradient(at:): the objective must be a scalar, got shape \(value.shape)")
        let grads = tape.gradients(of: value, withRespectTo: watched)
        var byPath: [String: Tensor] = [:]
        for (k, (path, _)) in parameters.enumerated() { byPath[path] = grads[k] }
        return (value.detached, Gradients(byPath: byPath))
    }
}
