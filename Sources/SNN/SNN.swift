@_exported import SNNTensor
