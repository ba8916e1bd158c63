/// ASTExecution: the order state machine, the portfolio and reconciliation. Being built in M4.
enum ASTExecutionModule {}
