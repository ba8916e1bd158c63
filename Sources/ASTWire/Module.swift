// ASTWire module.
