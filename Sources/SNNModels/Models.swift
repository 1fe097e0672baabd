import Foundation
import SNNLayers
import SNNNeurons
import SNNTensor

/// The models selectable by name (`snn train --model NAME`). Every model takes time-major input
/// `[T, N, C, H, W]` (or `[T, N, F]` for the MLP) and returns per-step logits `[T, N, classes]`;
/// the prediction is their mean over T. The last Linear layer has no neuron.
public enum ModelName: String, Sendable, CaseIterable {
    case spikingMLP = "spiking-mlp"
    case spikingCNN = "spiking-cnn"
    case vggSNN = "vgg-snn"
    case sewResNet18 = "sew-resnet18"
    case resnet19 = "resnet19"
    /// The sequential-task network of the PSN/PSU papers: Conv1d (128 channels, k = 3) → BN → neuron,
    /// twice, then a Linear readout; one image row (or column, or feature frame) per time step.
    case sequentialConv = "sequential-conv"
    /// The PSN/PSU papers' sequential-CIFAR network exactly: 2 × (3 × [Conv1d k3, 128 channels → BN →
    /// neuron] → AvgPool1d(2)), Linear(128·L/4 → 256) → neuron → Linear; per-step input `[C, L]`.
    case sequentialCIFAR = "sequential-cifar"
    /// The PSU paper's SHD network: Linear(F → 1024) → Dropout 0.4 → BN → neuron, twice, then
    /// Linear(1024 → classes); per-step input flattened to `[F]` (700 channels for SHD).
    case shdFC = "shd-fc"
    /// A recurrent spiking MLP for sequences: per width, Linear(F → H) → BN → H neurons with all-to-all
    /// feedback of their spikes (``RecurrentSpiking``), then Linear(H → classes); per-step input
    /// flattened. Stepwise neurons only (IF, LIF, PLIF).
    case recurrentMLP = "recurrent-mlp"
    /// Spikformer (METHODS.md §5): spiking patch splitting, blocks of spiking self-attention and MLP,
    /// mean over tokens → Linear; with TIM on the queries when ``SpikformerConfiguration`` asks. Its
    /// size is ``ModelConfiguration/spikformer`` (the DVS configuration by default).
    case spikformer
    /// The small SCNN of the transfer paper's N-Omniglot runs (METHODS.md §8): Conv5×5(C → 15) → neuron →
    /// AvgPool2 → Conv5×5(15 → 40) → neuron → AvgPool2 → FC(→ 300) → neuron → FC; no padding, no batch
    /// norm (a 28×28 input gives the 640 features of the paper).
    case transferSCNN = "transfer-scnn"
}

/// What a model is built for and with.
public struct ModelConfiguration: Sendable, Equatable {
    public var name: ModelName
    /// Input of one sample at one step: `[C, H, W]` (or `[F]`).
    public var inputShape: [Int]
    public var classes: Int
    public var neuron: NeuronConfiguration
    /// Hidden widths of the MLP, or conv channels of the spiking CNN.
    public var widths: [Int]
    /// The size of `spikformer` (and its TIM); other models ignore it.
    public var spikformer: SpikformerConfiguration
    /// One classifier, or the static and event heads of a transfer model (conv models only:
    /// ``ModelName/supportsDomainHeads``); learned step weights have `neuron.timeSteps` entries.
    public var heads: ClassifierHeads

    public init(
        name: ModelName, inputShape: [Int], classes: Int, neuron: NeuronConfiguration = NeuronConfiguration(),
        widths: [Int]? = nil, spikformer: SpikformerConfiguration = SpikformerConfiguration(),
        heads: ClassifierHeads = .single
    ) {
        self.name = name
        self.inputShape = inputShape
        self.classes = classes
        self.neuron = neuron
        self.widths = widths ?? ModelConfiguration.defaultWidths(name)
        self.spikformer = spikformer
        self.heads = heads
    }

    /// The last Linear layer of the model: one head, or the static and event heads.
    func classifier(_ inFeatures: Int) -> any Layer {
        switch heads {
        case .single: Linear(inFeatures, classes)
        case .staticAndEvent(let learned):
            DomainHeads(inFeatures, classes, learnedStepWeights: learned ? neuron.timeSteps : nil)
        }
    }

    /// Builds the model with fresh weights (from ``GlobalRandom``).
    public func make() -> any Layer {
        precondition(classes >= 1, "ModelConfiguration: classes must be ≥ 1")
        precondition(heads == .single || name.supportsDomainHeads, "\(name.rawValue) has no static and event heads")
        switch name {
        case .spikingMLP: return Models.spikingMLP(self)
        case .spikingCNN: return Models.spikingCNN(self)
        case .vggSNN: return Models.vggSNN(self)
        case .sewResNet18: return SEWResNet(self, blocks: [2, 2, 2, 2], widths: [64, 128, 256, 512])
        case .resnet19: return ResNet19(self)
        case .sequentialConv: return Models.sequentialConv(self)
        case .sequentialCIFAR: return Models.sequentialCIFAR(self)
        case .shdFC: return Models.shdFC(self)
        case .recurrentMLP: return Models.recurrentMLP(self)
        case .transferSCNN: return Models.transferSCNN(self)
        case .spikformer:
            do throws(SNNError) {
                return try Spikformer(
                    inputShape: inputShape, classes: classes, configuration: spikformer, neuron: neuron)
            } catch {
                // footprint() throws the same errors; callers with user input check it first.
                preconditionFailure("spikformer: \(error.message)")
            }
        }
    }

    static func defaultWidths(_ name: ModelName) -> [Int] {
        switch name {
        case .spikingMLP: [256]
        case .sequentialConv: [128, 128]
        case .sequentialCIFAR: [128, 256]  // conv channels, hidden Linear width
        case .shdFC: [1024, 1024]
        case .recurrentMLP: [256]
        default: [32, 64]
        }
    }

    var imageShape: (c: Int, h: Int, w: Int) {
        precondition(inputShape.count == 3, "\(name.rawValue) needs image input [C, H, W], got \(inputShape)")
        return (inputShape[0], inputShape[1], inputShape[2])
    }
}

extension ModelName {
    /// Whether the model is a conv model that can end in static and event heads (static-to-event
    /// transfer): a shared spiking conv feature extractor and a last Linear layer.
    public var supportsDomainHeads: Bool {
        [.spikingCNN, .vggSNN, .sewResNet18, .resnet19, .transferSCNN].contains(self)
    }
}

enum Models {
    static func spikingMLP(_ c: ModelConfiguration) -> Sequential {
        var layers: [any Layer] = [Flatten(startAxis: 2)]
        var width = c.inputShape.reduce(1, *)
        for hidden in c.widths {
            layers += [Linear(width, hidden, bias: false), BatchNorm1d(hidden), c.neuron.make()]
            width = hidden
        }
        layers.append(Linear(width, c.classes))
        return Sequential(layers)
    }

    static func convBlock(_ inChannels: Int, _ outChannels: Int, _ neuron: NeuronConfiguration) -> [any Layer] {
        [
            Conv2d(inChannels, outChannels, kernelSize: 3, padding: 1, bias: false), BatchNorm2d(outChannels),
            neuron.make(),
        ]
    }

    /// Per width: Conv1d(k = 3, padding 1) → BN over the channels → neuron; then Linear. Input per
    /// step `[C, L]`.
    static func sequentialConv(_ c: ModelConfiguration) -> Sequential {
        precondition(c.inputShape.count == 2, "sequential-conv needs per-step input [C, L], got \(c.inputShape)")
        var channels = c.inputShape[0]
        let length = c.inputShape[1]
        var layers: [any Layer] = []
        for width in c.widths {
            layers += [
                Conv1d(channels, width, kernelSize: 3, padding: 1, bias: false),
                BatchNorm1d(width, channelAxisFromEnd: -2), c.neuron.make(),
            ]
            channels = width
        }
        layers += [Flatten(lastAxes: 2), Linear(channels * length, c.classes)]
        return Sequential(layers)
    }

    /// METHODS.md "Sequential net": widths = [conv channels, hidden width].
    static func sequentialCIFAR(_ c: ModelConfiguration) -> Sequential {
        precondition(c.inputShape.count == 2, "sequential-cifar needs per-step input [C, L], got \(c.inputShape)")
        precondition(c.widths.count == 2, "sequential-cifar takes --widths CHANNELS,HIDDEN, got \(c.widths)")
        var channels = c.inputShape[0], length = c.inputShape[1]
        let width = c.widths[0], hidden = c.widths[1]
        var layers: [any Layer] = []
        for _ in 0..<2 {
            for _ in 0..<3 {
                layers += [
                    Conv1d(channels, width, kernelSize: 3, padding: 1, bias: false),
                    BatchNorm1d(width, channelAxisFromEnd: -2), c.neuron.make(),
                ]
                channels = width
            }
            layers.append(AvgPool1d(2))
            length /= 2
        }
        precondition(
            length >= 1, "sequential-cifar: per-step length \(c.inputShape[1]) is too short for two 2× poolings")
        layers += [Flatten(lastAxes: 2), Linear(channels * length, hidden), c.neuron.make(), Linear(hidden, c.classes)]
        return Sequential(layers)
    }

    /// METHODS.md "SHD fully connected net": Linear → Dropout 0.4 (one mask for all steps) → BN → neuron
    /// per width, then Linear.
    static func shdFC(_ c: ModelConfiguration) -> Sequential {
        var layers: [any Layer] = [Flatten(startAxis: 2)]
        var width = c.inputShape.reduce(1, *)
        for hidden in c.widths {
            layers += [
                Linear(width, hidden), Dropout(probability: 0.4, sharedAcrossTime: true), BatchNorm1d(hidden),
                c.neuron.make(),
            ]
            width = hidden
        }
        layers.append(Linear(width, c.classes))
        return Sequential(layers)
    }

    /// Per width: Linear (no bias) → BN → recurrent neurons; then Linear.
    static func recurrentMLP(_ c: ModelConfiguration) -> Sequential {
        var layers: [any Layer] = [Flatten(startAxis: 2)]
        var width = c.inputShape.reduce(1, *)
        for hidden in c.widths {
            layers += [
                Linear(width, hidden, bias: false), BatchNorm1d(hidden),
                RecurrentSpiking(features: hidden, neuron: c.neuron.makeStepwise()),
            ]
            width = hidden
        }
        layers.append(Linear(width, c.classes))
        return Sequential(layers)
    }

    /// Conv(3×3) → BN → neuron → MaxPool(2) per width, then Linear.
    static func spikingCNN(_ c: ModelConfiguration) -> Sequential {
        var (channels, h, w) = c.imageShape
        var layers: [any Layer] = []
        for width in c.widths {
            layers += convBlock(channels, width, c.neuron)
            layers.append(MaxPool2d(2))
            channels = width
            h /= 2
            w /= 2
        }
        precondition(
            h >= 1 && w >= 1, "spiking-cnn: \(c.widths.count) pooling stages shrink \(c.inputShape) to nothing")
        layers += [Flatten(lastAxes: 3), c.classifier(channels * h * w)]
        return Sequential(layers)
    }

    /// BrainCog's VGG-SNN for 2×48×48 event frames: 64C3-128C3-AP2-256C3-256C3-AP2-512C3-512C3-AP2-
    /// 512C3-512C3-AP2-FC.
    static func vggSNN(_ c: ModelConfiguration) -> Sequential {
        var (channels, h, w) = c.imageShape
        var layers: [any Layer] = []
        for stage in [[64, 128], [256, 256], [512, 512], [512, 512]] {
            for width in stage {
                layers += convBlock(channels, width, c.neuron)
                channels = width
            }
            layers.append(AvgPool2d(2))
            h /= 2
            w /= 2
        }
        precondition(h >= 1 && w >= 1, "vgg-snn: input \(c.inputShape) is too small for four 2× poolings")
        layers += [Flatten(lastAxes: 3), c.classifier(channels * h * w)]
        return Sequential(layers)
    }

    /// The transfer SCNN (METHODS.md §8). Its convolutions keep their biases: there is no batch norm.
    static func transferSCNN(_ c: ModelConfiguration) -> Sequential {
        let (channels, h, w) = c.imageShape
        let (h2, w2) = (((h - 4) / 2 - 4) / 2, ((w - 4) / 2 - 4) / 2)
        precondition(
            (h - 4) / 2 >= 5 && (w - 4) / 2 >= 5 && h2 >= 1 && w2 >= 1,
            "transfer-scnn: input \(c.inputShape) is too small for two 5×5 convolutions and 2× poolings")
        return Sequential([
            Conv2d(channels, 15, kernelSize: 5), c.neuron.make(), AvgPool2d(2),
            Conv2d(15, 40, kernelSize: 5), c.neuron.make(), AvgPool2d(2),
            Flatten(lastAxes: 3), Linear(40 * h2 * w2, 300), c.neuron.make(), c.classifier(300),
        ])
    }
}

/// Spike-element-wise residual block with the ADD connection (Fang et al., SEW ResNet):
/// out = SN(BN(conv(SN(BN(conv(x)))))) + shortcut(x), the shortcut being SN(BN(conv1×1)) when the
/// shape changes.
public final class SEWBasicBlock: Module, Layer {
    let body: Sequential
    let downsample: Sequential?

    init(_ inChannels: Int, _ outChannels: Int, stride: Int, neuron: NeuronConfiguration) {
        body = Sequential {
            Conv2d(inChannels, outChannels, kernelSize: 3, stride: stride, padding: 1, bias: false)
            BatchNorm2d(outChannels)
            neuron.make()
            Conv2d(outChannels, outChannels, kernelSize: 3, padding: 1, bias: false)
            BatchNorm2d(outChannels)
            neuron.make()
        }
        downsample =
            (stride != 1 || inChannels != outChannels)
            ? Sequential {
                Conv2d(inChannels, outChannels, kernelSize: 1, stride: stride, bias: false)
                BatchNorm2d(outChannels)
                neuron.make()
            } : nil
        super.init()
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        body(input) + (downsample.map { $0(input) } ?? input)
    }
}

/// SEW ResNet with the ADD connection and a 3×3 stem for small images.
public final class SEWResNet: Module, Layer {
    let stem: Sequential
    let layers: [SEWBasicBlock]
    let head: Sequential

    init(_ c: ModelConfiguration, blocks: [Int], widths: [Int]) {
        let (channels, _, _) = c.imageShape
        stem = Sequential(Models.convBlock(channels, widths[0], c.neuron))
        var blocksList: [SEWBasicBlock] = []
        var inChannels = widths[0]
        for (stage, (count, width)) in zip(blocks, widths).enumerated() {
            for b in 0..<count {
                blocksList.append(
                    SEWBasicBlock(inChannels, width, stride: (b == 0 && stage > 0) ? 2 : 1, neuron: c.neuron))
                inChannels = width
            }
        }
        layers = blocksList
        head = Sequential {
            AdaptiveAvgPool2d(1)
            Flatten(lastAxes: 3)
            c.classifier(inChannels)
        }
        super.init()
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        head(layers.reduce(stem(input)) { x, block in block(x) })
    }
}

/// The standard spiking residual block of ResNet-19 (Zheng et al.): SN(BN(conv(SN(BN(conv(x))))) + shortcut).
public final class SpikingBasicBlock: Module, Layer {
    let conv1: Conv2d, bn1: BatchNorm2d, sn1: any Layer
    let conv2: Conv2d, bn2: BatchNorm2d, sn2: any Layer
    let shortcut: Sequential?

    init(_ inChannels: Int, _ outChannels: Int, stride: Int, neuron: NeuronConfiguration) {
        conv1 = Conv2d(inChannels, outChannels, kernelSize: 3, stride: stride, padding: 1, bias: false)
        bn1 = BatchNorm2d(outChannels)
        sn1 = neuron.make()
        conv2 = Conv2d(outChannels, outChannels, kernelSize: 3, padding: 1, bias: false)
        bn2 = BatchNorm2d(outChannels)
        sn2 = neuron.make()
        shortcut =
            (stride != 1 || inChannels != outChannels)
            ? Sequential {
                Conv2d(inChannels, outChannels, kernelSize: 1, stride: stride, bias: false)
                BatchNorm2d(outChannels)
            } : nil
        super.init()
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        let out = bn2(conv2(sn1(bn1(conv1(input)))))
        return sn2(out + (shortcut.map { $0(input) } ?? input))
    }
}

/// ResNet-19 (Zheng et al., tdBN): stem 128, stages of 3, 3, 2 blocks with 128, 256, 512 channels,
/// global average pooling, FC 256 with a neuron, FC to the classes.
public final class ResNet19: Module, Layer {
    let stem: Sequential
    let layers: [SpikingBasicBlock]
    let head: Sequential

    init(_ c: ModelConfiguration) {
        let (channels, _, _) = c.imageShape
        stem = Sequential(Models.convBlock(channels, 128, c.neuron))
        var blocksList: [SpikingBasicBlock] = []
        var inChannels = 128
        for (stage, (count, width)) in zip([3, 3, 2], [128, 256, 512]).enumerated() {
            for b in 0..<count {
                blocksList.append(
                    SpikingBasicBlock(inChannels, width, stride: (b == 0 && stage > 0) ? 2 : 1, neuron: c.neuron))
                inChannels = width
            }
        }
        layers = blocksList
        head = Sequential([
            AdaptiveAvgPool2d(1), Flatten(lastAxes: 3), Linear(512, 256), c.neuron.make(),
            c.classifier(256),
        ])
        super.init()
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        head(layers.reduce(stem(input)) { x, block in block(x) })
    }
}
