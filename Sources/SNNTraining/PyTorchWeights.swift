import Foundation
import SNNLayers
import SNNModels
import SNNNeurons
import SNNTensor

/// Weights of a zoo model trained in PyTorch: a state_dict saved as safetensors, renamed to snn's
/// parameter paths by a table.
///
/// The models below have a PyTorch twin whose `nn.Sequential` has snn's layers in snn's order, so
/// the twin's keys are snn's paths with PyTorch's names for a few tensors. For `spiking-cnn` the
/// SpikingJelly twin is (multi-step layers, `step_mode="m"`):
///
///     nn.Sequential(
///         layer.Conv2d(C, w0, 3, padding=1, bias=False), layer.BatchNorm2d(w0), neuron.LIFNode(...),
///         layer.MaxPool2d(2),                                    # 0 … 3, and 4 … 7 for w1, …
///         layer.Flatten(), layer.Linear(w_last · H/2ᵏ · W/2ᵏ, classes))
///
/// and for `spiking-mlp`: `layer.Flatten(), layer.Linear(F, w0, bias=False), layer.BatchNorm1d(w0),
/// neuron.LIFNode(...), …, layer.Linear(w_last, classes)`. SpikingJelly's neuron constants are not
/// in a state_dict (except PLIF's `w`): give them as options, matching the twin's.
///
/// The snnTorch twins are the same `nn.Sequential`s of `torch.nn` layers with `snn.Leaky` neurons,
/// run one step at a time. Their constants are in the state_dict (``snnTorchNeuron(_:file:)``).
public enum PyTorchWeights {
    /// The frameworks whose state_dict keys are mapped.
    public enum Framework: String, Sendable, CaseIterable {
        case spikingjelly
        case snntorch
    }

    /// The zoo models with a PyTorch twin, and the twin's layer list (for messages and the README).
    public static let twins: [(model: ModelName, layers: String)] = [
        (
            .spikingCNN,
            "per width: Conv2d(3, padding=1, bias=False), BatchNorm2d, LIFNode, MaxPool2d(2); Flatten, Linear"
        ),
        (.spikingMLP, "Flatten; per width: Linear(bias=False), BatchNorm1d, LIFNode; Linear"),
    ]

    /// The tensor names that differ: PyTorch's last path component → snn's.
    public static let renamed = ["running_mean": "runningMean", "running_var": "runningVariance"]
    /// PyTorch entries that snn has no tensor for and that change no output.
    public static let ignored: Set<String> = ["num_batches_tracked"]
    /// The entries of an snnTorch `Leaky`, read by ``snnTorchNeuron(_:file:)`` rather than mapped.
    public static let snnTorchNeuronEntries: Set<String> = [
        "beta", "threshold", "graded_spikes_factor", "reset_mechanism_val",
    ]

    /// The neuron of an snnTorch twin, from the entries of its `snn.Leaky` layers (all alike):
    /// mem ← β·mem + x, a spike when mem > threshold, then mem ← 0 (`reset_mechanism="zero"`, with
    /// `reset_delay=False` as snnTorch's own NIR import sets it) is snn's LIF with τ = 1/(1 − β),
    /// undecayed input and a hard reset to 0. A subtracting reset ("subtract") reaches the next step
    /// differently from snn's soft reset and is refused, naming the key; so are differing layers.
    public static func snnTorchNeuron(_ tensors: [String: Tensor], file: String) throws(SNNError)
        -> NeuronConfiguration?
    {
        func value(_ key: String) throws(SNNError) -> Float? {
            guard let t = tensors[key] else { return nil }
            guard let first = t.scalars.first, t.scalars.allSatisfy({ $0 == first }) else {
                throw SNNError(
                    .unsupported, "key \"\(key)\" differs between neurons; snn's layers share one", file: file)
            }
            return first
        }
        var found: (beta: Float, threshold: Float, key: String)?
        for key in tensors.keys.sorted() where key.hasSuffix(".beta") || key == "beta" {
            let prefix = String(key.dropLast("beta".count))
            guard let beta = try value(key), beta > 0, beta < 1 else {
                throw SNNError(.unsupported, "key \"\(key)\": snn's LIF needs 0 < beta < 1", file: file)
            }
            let threshold = try value(prefix + "threshold") ?? 1
            if let reset = try value(prefix + "reset_mechanism_val"), reset != 1 {
                let name = reset == 0 ? "subtract" : "none"
                throw SNNError(
                    .unsupported,
                    "key \"\(prefix)reset_mechanism_val\" = \(Int(reset)) (\(name)): snn imports snnTorch's "
                        + "reset_mechanism=\"zero\" only; its subtracting reset reaches the next step differently",
                    file: file)
            }
            if let graded = try value(prefix + "graded_spikes_factor"), graded != 1 {
                throw SNNError(
                    .unsupported, "key \"\(prefix)graded_spikes_factor\" = \(graded): snn's spikes are 0 or 1",
                    file: file)
            }
            if let found, found.beta != beta || found.threshold != threshold {
                throw SNNError(
                    .unsupported,
                    "key \"\(key)\": its beta and threshold differ from \"\(found.key)\"'s; snn's models share one "
                        + "neuron", file: file)
            }
            found = (beta, threshold, key)
        }
        guard let found else { return nil }
        return NeuronConfiguration(
            kind: .leakyIntegrateAndFire, tau: 1 / (1 - found.beta), threshold: found.threshold, reset: .hard(to: 0),
            decayInput: false)
    }

    /// `tensors` (a state_dict of `framework`'s twin of `model`) under `module`'s parameter paths. A
    /// key with no counterpart, a parameter the file lacks, or a shape that differs is an error naming
    /// the PyTorch key.
    public static func stateDictionary(
        _ tensors: [String: Tensor], framework: Framework, model: ModelName, module: Module, file: String
    ) throws(SNNError) -> [String: Tensor] {
        guard twins.contains(where: { $0.model == model }) else {
            let names = twins.map(\.model.rawValue).joined(separator: ", ")
            throw SNNError(
                .unsupported, "\(model.rawValue) has no \(framework.rawValue) twin in snn's table (it has: \(names))",
                file: file)
        }
        let expected = module.stateDictionary()
        var mapped: [String: Tensor] = [:]
        var pytorchName: [String: String] = [:]
        for (key, tensor) in tensors.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard let last = parts.last, !ignored.contains(last),
                framework != .snntorch || !snnTorchNeuronEntries.contains(last)
            else { continue }
            let path = (parts.dropLast() + [renamed[last] ?? last]).joined(separator: ".")
            guard let target = expected[path] else {
                throw SNNError(
                    .mismatch,
                    "key \"\(key)\" has no counterpart in \(model.rawValue) (snn would call it \"\(path)\"); "
                        + "is the file the \(framework.rawValue) twin of this model with these --widths?", file: file)
            }
            guard tensor.shape == target.shape else {
                throw SNNError(
                    .mismatch,
                    "key \"\(key)\" has shape \(tensor.shape); \(model.rawValue) with these options needs "
                        + "\(target.shape)", file: file)
            }
            mapped[path] = tensor
            pytorchName[path] = key
        }
        for (path, tensor) in expected.sorted(by: { $0.key < $1.key }) where mapped[path] == nil {
            // A layer without bias has an empty tensor in snn and none in PyTorch.
            guard tensor.count == 0 else {
                let key = path.split(separator: ".").map { part in
                    renamed.first { $0.value == String(part) }?.key ?? String(part)
                }.joined(separator: ".")
                throw SNNError(.mismatch, "missing key \"\(key)\" (\(model.rawValue)'s \(path))", file: file)
            }
            mapped[path] = tensor
        }
        return mapped
    }
}
