import SNNTensor

/// The size of a model before it is built: its trainable parameters and the elements its layers
/// output for one sample at one time step (the activations backpropagation through time keeps).
///
/// Computed in closed form with overflow-checked arithmetic, so that absurd widths or input sizes
/// are refused with an error instead of trapping or exhausting memory in the layers' initialisers;
/// the shape rules the builders rely on (enough pixels for every pooling stage, the input rank each
/// model takes) are checked here too. A test keeps ``parameters`` equal to the built models' count.
public struct ModelFootprint: Sendable, Equatable {
    public var parameters = 0
    /// Output elements of every layer for one sample and one step (a lower bound on what the tape keeps).
    public var activationsPerSampleStep = 0
}

extension ModelConfiguration {
    /// The model's footprint; throws when the configuration cannot be built (a shape rule is broken
    /// or a size overflows).
    public func footprint() throws(SNNError) -> ModelFootprint {
        var f = FootprintCounter(model: name.rawValue, neuron: neuron)
        guard classes >= 1 else { throw f.error("needs at least one class, got \(classes)") }
        guard inputShape.allSatisfy({ $0 >= 1 }) else { throw f.error("needs a non-empty input, got \(inputShape)") }
        guard widths.allSatisfy({ $0 >= 1 }) else { throw f.error("widths must be positive, got \(widths)") }
        guard heads == .single || name.supportsDomainHeads else {
            let convModels = ModelName.allCases.filter(\.supportsDomainHeads).map(\.rawValue)
            throw f.error(
                "has no static and event heads (transfer needs a conv model: "
                    + convModels.joined(separator: ", ") + ")")
        }
        f.heads = heads
        switch name {
        case .spikingMLP, .shdFC, .recurrentMLP:
            var width = try f.product(inputShape)
            for hidden in widths {
                try f.linear(width, hidden, bias: name == .shdFC)
                try f.batchNorm(hidden, positions: 1)
                if name == .recurrentMLP {
                    try f.parameters(hidden, hidden)
                    try f.activations(hidden)  // the recurrent input
                }
                try f.neuron(hidden)
                width = hidden
            }
            try f.linear(width, classes, bias: true)
        case .sequentialConv, .sequentialCIFAR:
            guard inputShape.count == 2 else {
                throw f.error("needs per-step input [C, L] (e.g. --encoding rows), got \(inputShape)")
            }
            var channels = inputShape[0], length = inputShape[1]
            if name == .sequentialConv {
                for width in widths {
                    try f.conv(channels, width, kernel: 3, positions: length, oneDimensional: true)
                    channels = width
                }
                try f.linear(try f.product([channels, length]), classes, bias: true)
            } else {
                guard widths.count == 2 else { throw f.error("takes --widths CHANNELS,HIDDEN, got \(widths)") }
                for _ in 0..<2 {
                    for _ in 0..<3 {
                        try f.conv(channels, widths[0], kernel: 3, positions: length, oneDimensional: true)
                        channels = widths[0]
                    }
                    length /= 2
                    try f.activations(channels, length)
                }
                guard length >= 1 else {
                    throw f.error("per-step length \(inputShape[1]) is too short for two 2× poolings")
                }
                try f.linear(try f.product([channels, length]), widths[1], bias: true)
                try f.neuron(widths[1])
                try f.linear(widths[1], classes, bias: true)
            }
        case .spikingCNN, .vggSNN:
            guard inputShape.count == 3 else { throw f.error("needs image input [C, H, W], got \(inputShape)") }
            var (channels, h, w) = (inputShape[0], inputShape[1], inputShape[2])
            let stages =
                name == .spikingCNN ? widths.map { [$0] } : [[64, 128], [256, 256], [512, 512], [512, 512]]
            for stage in stages {
                for width in stage {
                    try f.conv(channels, width, kernel: 3, positions: try f.product([h, w]))
                    channels = width
                }
                (h, w) = (h / 2, w / 2)
                try f.activations(channels, h, w)
            }
            guard h >= 1 && w >= 1 else {
                throw f.error("input \(inputShape) is too small for \(stages.count) 2× poolings")
            }
            try f.classifier(try f.product([channels, h, w]), classes)
        case .sewResNet18, .resnet19:
            guard inputShape.count == 3 else { throw f.error("needs image input [C, H, W], got \(inputShape)") }
            var (h, w) = (inputShape[1], inputShape[2])
            let sew = name == .sewResNet18
            let (blocks, stageWidths) = sew ? ([2, 2, 2, 2], [64, 128, 256, 512]) : ([3, 3, 2], [128, 256, 512])
            var channels = stageWidths[0]
            try f.conv(inputShape[0], channels, kernel: 3, positions: try f.product([h, w]))
            for (stage, (count, width)) in zip(blocks, stageWidths).enumerated() {
                for b in 0..<count {
                    let stride = (b == 0 && stage > 0) ? 2 : 1
                    if stride == 2 { (h, w) = ((h - 1) / 2 + 1, (w - 1) / 2 + 1) }
                    let positions = try f.product([h, w])
                    try f.conv(channels, width, kernel: 3, positions: positions)
                    try f.conv(width, width, kernel: 3, positions: positions, neuron: sew)
                    if stride != 1 || channels != width {
                        try f.conv(channels, width, kernel: 1, positions: positions, neuron: sew)
                    }
                    if !sew { try f.neuron(width, positions) }
                    try f.activations(width, positions)  // the residual sum
                    channels = width
                }
            }
            if sew {
                try f.classifier(channels, classes)
            } else {
                try f.linear(channels, 256, bias: true)
                try f.neuron(256)
                try f.classifier(256, classes)
            }
        case .transferSCNN:
            guard inputShape.count == 3 else { throw f.error("needs image input [C, H, W], got \(inputShape)") }
            var (channels, h, w) = (inputShape[0], inputShape[1], inputShape[2])
            let tooSmall = f.error("input \(inputShape) is too small for two 5×5 convolutions and 2× poolings")
            for width in [15, 40] {
                guard h >= 5 && w >= 5 else { throw tooSmall }
                (h, w) = (h - 4, w - 4)
                try f.parameters(5, 5, channels, width)
                try f.parameters(width)
                try f.activations(width, h, w)
                try f.neuron(width, h, w)
                (h, w) = (h / 2, w / 2)
                try f.activations(width, h, w)
                channels = width
            }
            guard h >= 1 && w >= 1 else { throw tooSmall }
            try f.linear(try f.product([channels, h, w]), 300, bias: true)
            try f.neuron(300)
            try f.classifier(300, classes)
        case .spikformer:
            try f.spikformer(spikformer, inputShape: inputShape, classes: classes)
        }
        return f.footprint
    }
}

/// Adds up a footprint layer by layer with checked arithmetic.
struct FootprintCounter {
    let model: String
    let neuronConfiguration: NeuronConfiguration
    var footprint = ModelFootprint()
    var heads = ClassifierHeads.single

    init(model: String, neuron: NeuronConfiguration) {
        self.model = model
        neuronConfiguration = neuron
    }

    func error(_ message: String) -> SNNError { SNNError(.invalidArgument, "\(model): \(message)") }

    func product(_ factors: [Int]) throws(SNNError) -> Int {
        guard let p = MemoryBudget.product(factors) else {
            throw error("the size \(factors.map(String.init).joined(separator: " × ")) overflows")
        }
        return p
    }

    mutating func parameters(_ factors: Int...) throws(SNNError) {
        let (sum, overflow) = footprint.parameters.addingReportingOverflow(try product(factors))
        if overflow { throw error("the parameter count overflows") }
        footprint.parameters = sum
    }

    mutating func activations(_ factors: Int...) throws(SNNError) {
        let (sum, overflow) = footprint.activationsPerSampleStep.addingReportingOverflow(try product(factors))
        if overflow { throw error("the activation count overflows") }
        footprint.activationsPerSampleStep = sum
    }

    mutating func linear(_ inputs: Int, _ outputs: Int, bias: Bool) throws(SNNError) {
        try parameters(inputs, outputs)
        if bias { try parameters(outputs) }
        try activations(outputs)
    }

    /// The model's last Linear layer: one, or the static and event heads (with c_t when learned).
    mutating func classifier(_ inputs: Int, _ classes: Int) throws(SNNError) {
        try linear(inputs, classes, bias: true)
        if case .staticAndEvent(let learned) = heads {
            try parameters(inputs, classes)
            try parameters(classes)
            if learned { try parameters(neuronConfiguration.timeSteps) }
        }
    }

    mutating func batchNorm(_ channels: Int, positions: Int) throws(SNNError) {
        try parameters(2, channels)
        try activations(channels, positions)
    }

    /// Conv (no bias; 2-D, or 1-D with `oneDimensional`) → BN → neuron (when `neuron`) at `positions`
    /// output positions.
    mutating func conv(
        _ inputs: Int, _ outputs: Int, kernel: Int, positions: Int, neuron: Bool = true,
        oneDimensional: Bool = false
    ) throws(SNNError) {
        try parameters(kernel, oneDimensional ? 1 : kernel, inputs, outputs)
        try activations(outputs, positions)
        try batchNorm(outputs, positions: positions)
        if neuron { try self.neuron(outputs, positions) }
    }

    /// A neuron layer over `factors` features: its spikes, and the T×T parameters of the parallel neurons.
    mutating func neuron(_ factors: Int...) throws(SNNError) {
        var elements = 1
        for f in factors { elements = try product([elements, f]) }
        try activations(elements)
        let t = neuronConfiguration.timeSteps
        switch neuronConfiguration.kind {
        case .integrateAndFire, .leakyIntegrateAndFire: break
        case .parametricLIF: try parameters(1)
        case .psn, .maskedPSN:
            try parameters(t, t)
            try parameters(t)
        case .slidingPSN: try parameters(neuronConfiguration.order + 1)
        case .psu: try parameters(1)
        case .ipsu, .rpsu:
            try parameters(t, t)
            try parameters(t)
            try parameters(1)
        }
    }
}

extension FootprintCounter {
    /// Spikformer: SPS, `depth` blocks of SSA (with TIM) and MLP, the Linear head.
    mutating func spikformer(_ c: SpikformerConfiguration, inputShape: [Int], classes: Int) throws(SNNError) {
        let tokens: Int
        do throws(SNNError) { tokens = try c.check(inputShape: inputShape) } catch { throw self.error(error.message) }
        let plan = try SpikingPatchSplitting.plan(inputShape: inputShape, embedDimension: c.embedDimension)
        var (channels, h, w) = (inputShape[0], inputShape[1], inputShape[2])
        for (index, width) in SpikingPatchSplitting.stageChannels(embedDimension: c.embedDimension).enumerated() {
            try conv(channels, width, kernel: 3, positions: try product([h, w]))
            channels = width
            if index >= 4 - plan.poolingStages {
                (h, w) = (SpikingPatchSplitting.pooled(h), SpikingPatchSplitting.pooled(w))
                try activations(channels, h, w)
            }
        }
        let dimension = c.embedDimension, hidden = try product([dimension, c.mlpRatio])
        try conv(dimension, dimension, kernel: 3, positions: tokens)  // the position embedding
        try activations(dimension, tokens)  // x + embedding
        for _ in 0..<c.depth {
            for _ in 0..<3 { try conv(dimension, dimension, kernel: 1, positions: tokens, oneDimensional: true) }
            if let tim = c.temporalInteraction {
                let d = dimension / c.heads
                try parameters(tim.kernelSize, d, d)
                try parameters(d)
                try activations(dimension, tokens, 4)  // convolution, LIF_in, the mix, LIF_out
                // TIM steps, so a parallel model neuron becomes a LIF there (no T×T parameters).
                if neuronConfiguration.kind == .parametricLIF { try parameters(2) }
            }
            try activations(c.heads, tokens, tokens)  // the scores
            try activations(dimension, tokens)  // the product
            try neuron(dimension, tokens)
            try conv(dimension, dimension, kernel: 1, positions: tokens, oneDimensional: true)
            try parameters(dimension)  // the projection's bias
            try activations(dimension, tokens)  // the residual sum
            try conv(dimension, hidden, kernel: 1, positions: tokens, oneDimensional: true)
            try parameters(hidden)
            try conv(hidden, dimension, kernel: 1, positions: tokens, oneDimensional: true)
            try parameters(dimension)
            try activations(dimension, tokens)
        }
        try activations(dimension)  // the mean over tokens
        try linear(dimension, classes, bias: true)
    }
}
