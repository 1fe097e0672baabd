public enum SNNOptimizersPlaceholder {}
