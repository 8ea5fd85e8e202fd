"""The canonical run primitive: every long-running piece of work is one OperationRun."""
