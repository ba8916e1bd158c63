// ASTBus module.
