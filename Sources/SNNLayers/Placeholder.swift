public enum SNNLayersPlaceholder {}
