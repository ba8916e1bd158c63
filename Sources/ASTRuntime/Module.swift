// ASTRuntime module.
