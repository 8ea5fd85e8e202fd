"""opsapp: Intune / Entra tenant operations, every long-running piece tracked as an OperationRun."""
