public enum CCTraceAnalysisPlaceholder {}
