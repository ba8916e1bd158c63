/// ASTIndicators: incremental technical indicators. Being built in M5.
enum ASTIndicatorsModule {}
