import SNNLayers
import SNNModels
import SNNNeurons
import SNNTensor

/// The fixed frame around a genome: channels of the first module's cells and the neuron. Module
/// m's cells have C·2^m channels per node (2C·2^m per cell output).
public struct SearchSpace: Sendable, Equatable {
    /// C: channels per node in the first module (even, so a factorised reduction can halve it).
    public var channels: Int
    public var neuron: NeuronConfiguration

    public init(channels: Int = 8, neuron: NeuronConfiguration = .evolved) {
        self.channels = channels
        self.neuron = neuron
    }

    /// Checks that a network of `modules` modules fits input `[C, H, W]`: stepwise neurons, even
    /// channels, and an even spatial size wherever a reduction follows. Names the problem in words
    /// a caller can map to its own flags.
    public func validate(inputShape: [Int], modules: Int) throws(SNNError) {
        func bad(_ message: String) -> SNNError { SNNError(.invalidArgument, message) }
        guard inputShape.count == 3 else {
            throw bad("the evolved networks take image input [C, H, W] per step, got \(inputShape)")
        }
        guard channels >= 2 && channels % 2 == 0 else { throw bad("channels must be even and ≥ 2, got \(channels)") }
        guard neuron.isStepwise else {
            throw bad(
                "the evolved networks run step by step (feedback through time); the neuron must be if, lif or plif, not \(neuron.kind.rawValue)"
            )
        }
        var h = inputShape[1], w = inputShape[2]
        for m in 1..<max(modules, 1) {
            guard h % 2 == 0 && w % 2 == 0 else {
                throw bad(
                    "\(modules) modules need \(modules - 1) reductions by 2, but the input \(inputShape[1])×\(inputShape[2]) reaches the odd size \(h)×\(w) before reduction \(m)"
                )
            }
            h /= 2
            w /= 2
        }
    }
}

extension NeuronConfiguration {
    /// The neuron of the evolved networks unless one is given: BrainCog's LIF node, which the released
    /// EB code builds its cells from: τ = 2, hard reset to 0, threshold 0.5 (the project's default of 1
    /// leaves the 20–30 spiking layers of a 2-module network at ~5 % firing, and it barely learns:
    /// docs/design-notes.md, "The evolved networks' neuron and learning rate").
    public static let evolved = NeuronConfiguration(kind: .leakyIntegrateAndFire, tau: 2, threshold: 0.5)
}

/// A learned global connection: module `source`'s output spikes into the n1 input of module
/// `target`'s last cell. Sizes are matched by a strided convolution (kernel = stride = 2^(target −
/// source)) when the source is larger, by nearest upsampling then a 1×1 convolution when it is
/// smaller, by a 1×1 convolution when equal; then BatchNorm.
public final class GlobalProjection: Module, Layer {
    public let source: Int, target: Int
    public let layers: Sequential

    public init(source: Int, target: Int, inChannels: Int, outChannels: Int) {
        self.source = source
        self.target = target
        if source < target {
            let f = 1 << (target - source)
            layers = Sequential {
                Conv2d(inChannels, outChannels, kernelSize: f, stride: f, bias: false)
                BatchNorm2d(outChannels)
            }
        } else {
            let f = 1 << (source - target)
            layers = Sequential {
                NearestUpsample(factor: f)
                Conv2d(inChannels, outChannels, kernelSize: 1, bias: false)
                BatchNorm2d(outChannels)
            }
        }
        super.init()
    }

    public func callAsFunction(_ input: Tensor) -> Tensor { layers(input) }
}

/// Between two modules: a factorised reduction (channels ×2, size ÷2) followed by a neuron.
public final class ReductionCell: Module {
    public let reduce: FactorizedReduce
    public let neuron: any SpikingNeuron

    public init(inChannels: Int, neuron: any SpikingNeuron) {
        reduce = FactorizedReduce(inChannels, 2 * inChannels)
        self.neuron = neuron
        super.init()
    }

    /// One step: spikes in, spikes out; `membrane` carries the neuron's state.
    public func step(_ spikes: Tensor, membrane: inout Tensor?) -> Tensor {
        neuron.step(reduce(spikes), membrane: &membrane)
    }
}

/// The network a genome describes (METHODS.md §3), on time-major input `[T, N, C, H, W]` (the
/// analog image at every step, direct encoding), returning per-step logits `[T, N, classes]`:
///
///     per step t: stem Conv 3×3 (C_in → 2C) → BN → neuron;
///                 module 0 (5 cells), reduction, module 1, …, module M − 1;
///                 global pool of the last cell's spikes → Linear (no neuron)
///
/// A cell's inputs are the spikes of the two cells before it (the stem counts as both for the first
/// cell). Global connection (m, j) adds a projection of module m's output to the n1 current of
/// module j's last cell: this step's output when m < j, the previous step's when m ≥ j (nothing at
/// t = 0). Feedback through time makes the network run step by step, stem included, so batch
/// normalisation sees the N samples of one step (not T·N as in the layer-by-layer models), and the
/// network is causal in training mode too: step t depends on no later step.
public final class EvolvedNetwork: Module, Layer {
    public let genome: ArchitectureGenome
    public let stem: Sequential
    public let stemNeuron: any SpikingNeuron
    /// `cells[m][k]`: the k-th cell of module m (its motif is `genome.modules[m].order[k]`).
    public let cells: [[MotifCell]]
    public let reductions: [ReductionCell]
    public let projections: [GlobalProjection]
    public let classifier: Linear

    /// Call ``SearchSpace/validate(inputShape:modules:)`` first for shapes that come from users.
    public init(genome: ArchitectureGenome, space: SearchSpace, inputShape: [Int], classes: Int) {
        precondition(
            (try? space.validate(inputShape: inputShape, modules: genome.modules.count)) != nil,
            "EvolvedNetwork: \(inputShape) does not fit \(genome.modules.count) modules of \(space.channels) channels")
        precondition((try? genome.validate()) != nil, "EvolvedNetwork: invalid genome \(genome.key)")
        self.genome = genome
        let c = space.channels
        stem = Sequential {
            Conv2d(inputShape[0], 2 * c, kernelSize: 3, padding: 1, bias: false)
            BatchNorm2d(2 * c)
        }
        stemNeuron = space.neuron.makeStepwise()
        var cells: [[MotifCell]] = [], reductions: [ReductionCell] = []
        var previous0 = 2 * c, previous1 = 2 * c  // channels of the two previous cells' spikes
        for (m, module) in genome.modules.enumerated() {
            let width = c << m
            var reduceFirst = false
            if m > 0 {
                reductions.append(ReductionCell(inChannels: previous1, neuron: space.neuron.makeStepwise()))
                previous0 = previous1
                previous1 = 2 * previous1
                reduceFirst = true
            }
            var row: [MotifCell] = []
            for (k, motif) in module.order.enumerated() {
                row.append(
                    MotifCell(
                        motif: motif, channels: width, inChannels0: previous0, inChannels1: previous1,
                        reduceInput0: reduceFirst && k == 0,
                        kernelSizes: motif.edges.indices.map { module.kernelSize(motif, edge: $0) },
                        makeNeuron: { space.neuron.makeStepwise() }))
                previous0 = previous1
                previous1 = 2 * width
            }
            cells.append(row)
        }
        self.cells = cells
        self.reductions = reductions
        var projections: [GlobalProjection] = []
        for (m, row) in genome.globalConnections.enumerated() {
            for (j, on) in row.enumerated() where on {
                projections.append(
                    GlobalProjection(source: m, target: j, inChannels: 2 * (c << m), outChannels: c << j))
            }
        }
        self.projections = projections
        classifier = Linear(previous1, classes)
        super.init()
    }

    /// What one forward pass saw, for tests: per step, every cell's node currents and spikes.
    public final class Trace {
        /// `steps[t][m][k]`: cell k of module m at step t.
        public var steps: [[[MotifCell.Step]]] = []
        public init() {}
    }

    public func callAsFunction(_ input: Tensor) -> Tensor { forward(input, trace: nil) }

    /// The forward pass, recording node currents and spikes into `trace` when given.
    public func forward(_ input: Tensor, trace: Trace?) -> Tensor {
        precondition(input.rank == 5, "EvolvedNetwork: input must be [T, N, C, H, W], got \(input.shape)")
        let steps = input.shape[0], modules = cells.count
        var stemMembrane: Tensor?
        var cellStates = cells.map { row in row.map { CellState(nodes: $0.motif.nodeCount) } }
        var reductionMembranes = [Tensor?](repeating: nil, count: reductions.count)
        var previousOutputs: [Tensor] = []
        var logits: [Tensor] = []
        for t in 0..<steps {
            let stemSpikes = stemNeuron.step(stem(input.selecting(t)), membrane: &stemMembrane)
            var before = stemSpikes, last = stemSpikes
            var outputs: [Tensor] = []
            var record: [[MotifCell.Step]] = []
            for m in 0..<modules {
                if m > 0 {
                    before = last
                    last = reductions[m - 1].step(last, membrane: &reductionMembranes[m - 1])
                }
                var row: [MotifCell.Step] = []
                for (k, cell) in cells[m].enumerated() {
                    let extra =
                        k == cells[m].count - 1
                        ? globalInput(into: m, current: outputs, previous: previousOutputs) : nil
                    let result = cell.step(before, last, extra: extra, state: &cellStates[m][k])
                    before = last
                    last = result.output
                    if trace != nil { row.append(result) }
                }
                outputs.append(last)
                record.append(row)
            }
            trace?.steps.append(record)
            previousOutputs = outputs
            logits.append(classifier(last.mean(alongAxes: [2, 3])))
        }
        return Tensor.stack(logits)
    }

    /// The sum of the projections into module `target`'s last cell: sources before it from this
    /// step's `current` outputs, the others from the `previous` step's (none at the first step).
    func globalInput(into target: Int, current: [Tensor], previous: [Tensor]) -> Tensor? {
        var sum: Tensor?
        for projection in projections where projection.target == target {
            let source =
                projection.source < target
                ? current[projection.source]
                : (previous.isEmpty ? nil : previous[projection.source])
            guard let source else { continue }
            let x = projection(source)
            sum = sum.map { $0 + x } ?? x
        }
        return sum
    }
}
