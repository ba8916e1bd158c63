// ASTTestKit module.
