// ASTJournal module.
