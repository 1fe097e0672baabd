// The umbrella module: `import SNN` brings the whole library.
@_exported import SNNData
@_exported import SNNLayers
@_exported import SNNModels
@_exported import SNNNeurons
@_exported import SNNOptimizers
@_exported import SNNSearch
@_exported import SNNTensor
@_exported import SNNTraining
